package payloads

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/convot/convot/internal/crypto"
)

const secret = "alice@example.com"

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func newCodec(t *testing.T, current uint32, keys map[uint32][]byte) *Codec {
	t.Helper()
	c, err := NewCodec(current, keys)
	require.NoError(t, err)
	return c
}

func plainPayloads(t *testing.T, values ...any) []*commonpb.Payload {
	t.Helper()
	ps, err := converter.GetDefaultDataConverter().ToPayloads(values...)
	require.NoError(t, err)
	return ps.Payloads
}

func TestRoundTrip(t *testing.T) {
	c := newCodec(t, 1, map[uint32][]byte{1: key(1)})
	in := plainPayloads(t, secret, 42, map[string]any{"ids": []int{1, 2}}, nil, []byte{0, 1, 2})
	enc, err := c.Encode(in)
	require.NoError(t, err)
	require.Len(t, enc, len(in))
	for _, p := range enc {
		require.Equal(t, EncodingEncrypted, string(p.Metadata[MetadataEncoding]))
		require.Equal(t, "v1", string(p.Metadata[MetadataKeyID]))
	}
	dec, err := c.Decode(enc)
	require.NoError(t, err)
	require.Len(t, dec, len(in))
	for i := range in {
		require.True(t, proto.Equal(in[i], dec[i]), "payload %d differs", i)
	}
}

func TestCiphertextHidesPlaintext(t *testing.T) {
	c := newCodec(t, 1, map[uint32][]byte{1: key(1)})
	dc := DataConverter(c)
	p, err := dc.ToPayload(struct{ Email string }{secret})
	require.NoError(t, err)

	raw, err := proto.Marshal(p)
	require.NoError(t, err)
	require.NotContains(t, string(raw), secret)
	require.NotContains(t, string(raw), "alice")
	require.NotContains(t, string(raw), "json/plain", "the inner metadata is encrypted too")
	require.Equal(t, EncodingEncrypted, string(p.Metadata[MetadataEncoding]))

	// A fresh nonce each time: equal values do not give equal ciphertexts.
	p2, err := dc.ToPayload(struct{ Email string }{secret})
	require.NoError(t, err)
	require.NotEqual(t, p.Data, p2.Data)

	var back struct{ Email string }
	require.NoError(t, dc.FromPayload(p, &back))
	require.Equal(t, secret, back.Email)
}

func TestTamperedCiphertextFails(t *testing.T) {
	c := newCodec(t, 1, map[uint32][]byte{1: key(1), 2: key(2)})
	enc, err := c.Encode(plainPayloads(t, secret))
	require.NoError(t, err)

	for name, mutate := range map[string]func(p *commonpb.Payload){
		"flipped bit":     func(p *commonpb.Payload) { p.Data[len(p.Data)/2] ^= 1 },
		"flipped nonce":   func(p *commonpb.Payload) { p.Data[0] ^= 1 },
		"truncated":       func(p *commonpb.Payload) { p.Data = p.Data[:len(p.Data)-1] },
		"too short":       func(p *commonpb.Payload) { p.Data = p.Data[:8] },
		"other key named": func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("v2") },
		"bad key id":      func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("one") },
		"no key id":       func(p *commonpb.Payload) { delete(p.Metadata, MetadataKeyID) },
	} {
		t.Run(name, func(t *testing.T) {
			p := proto.Clone(enc[0]).(*commonpb.Payload)
			mutate(p)
			_, err := c.Decode([]*commonpb.Payload{p})
			require.Error(t, err)
		})
	}
	// The untouched payload still decodes.
	_, err = c.Decode(enc)
	require.NoError(t, err)
}

func TestUnknownVersionFails(t *testing.T) {
	v1 := newCodec(t, 1, map[uint32][]byte{1: key(1)})
	v2only := newCodec(t, 2, map[uint32][]byte{2: key(2)})
	enc, err := v1.Encode(plainPayloads(t, secret))
	require.NoError(t, err)
	_, err = v2only.Decode(enc)
	require.ErrorContains(t, err, "v1")
}

func TestRotation(t *testing.T) {
	before := newCodec(t, 1, map[uint32][]byte{1: key(1)})
	old, err := before.Encode(plainPayloads(t, secret))
	require.NoError(t, err)

	after := newCodec(t, 2, map[uint32][]byte{1: key(1), 2: key(2)})
	require.Equal(t, uint32(2), after.Current())
	dec, err := after.Decode(old)
	require.NoError(t, err, "history from before the rotation must stay readable")
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(dec[0], &s))
	require.Equal(t, secret, s)

	fresh, err := after.Encode(plainPayloads(t, secret))
	require.NoError(t, err)
	require.Equal(t, "v2", string(fresh[0].Metadata[MetadataKeyID]))
	_, err = before.Decode(fresh)
	require.Error(t, err, "v1-only codec cannot read v2")
}

func TestUnencryptedPayloadsPassThrough(t *testing.T) {
	c := newCodec(t, 1, map[uint32][]byte{1: key(1)})
	in := plainPayloads(t, "written before encryption")
	out, err := c.Decode(in)
	require.NoError(t, err)
	require.Same(t, in[0], out[0])

	// A mixed batch decodes too.
	enc, err := c.Encode(plainPayloads(t, "new"))
	require.NoError(t, err)
	out, err = c.Decode([]*commonpb.Payload{in[0], enc[0]})
	require.NoError(t, err)
	var a, b string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(out[0], &a))
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(out[1], &b))
	require.Equal(t, "written before encryption", a)
	require.Equal(t, "new", b)
}

func TestNewCodecValidates(t *testing.T) {
	_, err := NewCodec(2, map[uint32][]byte{1: key(1)})
	require.Error(t, err, "current key missing")
	_, err = NewCodec(1, map[uint32][]byte{1: key(1)[:16]})
	require.Error(t, err, "AES-128 key")
	_, err = NewCodec(1, nil)
	require.Error(t, err)
}

func TestDeriveKey(t *testing.T) {
	master := key(7)
	k1 := DeriveKey(master, 1)
	require.Len(t, k1, KeySize)
	require.Equal(t, k1, DeriveKey(master, 1), "deterministic")
	require.NotEqual(t, k1, DeriveKey(master, 2), "one key per version")
	require.NotEqual(t, k1, DeriveKey(key(8), 1), "one key per master")
	require.NotEqual(t, k1, master)

	// The same keys as cmd/convot derives from CONVOT_MASTER_KEY.
	mk, err := crypto.ParseMasterKeys("v3:" + base64.StdEncoding.EncodeToString(master))
	require.NoError(t, err)
	derived, err := mk.Derive(3, "convot temporal payloads v3")
	require.NoError(t, err)
	require.Equal(t, DeriveKey(master, 3), derived)

	// Keys derived so make a working codec.
	c := newCodec(t, 3, map[uint32][]byte{3: DeriveKey(master, 3)})
	enc, err := c.Encode(plainPayloads(t, secret))
	require.NoError(t, err)
	_, err = c.Decode(enc)
	require.NoError(t, err)
}
