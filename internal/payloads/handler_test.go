package payloads

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const uiOrigin = "http://localhost:8233"

const acme, globex = 7, 8

type codecServer struct {
	codec *Codec
	srv   *httptest.Server
	asked atomic.Int32 // authorize calls
}

func newCodecServer(t *testing.T) *codecServer {
	t.Helper()
	cs := &codecServer{codec: newCodec(t, 1, map[uint32][]byte{1: key(1)})}
	authorize := func(r *http.Request) (Reader, bool) {
		cs.asked.Add(1)
		switch r.Header.Get("Authorization") {
		case "Bearer officer-token": // Convot's staff, from the CLI
			return Reader{Staff: true}, true
		case "Bearer acme-officer":
			return Reader{OrganizationID: acme}, true
		case "Bearer globex-officer":
			return Reader{OrganizationID: globex}, true
		}
		return Reader{}, false
	}
	mux := http.NewServeMux()
	mux.Handle("/temporal-codec/", Handler(cs.codec, uiOrigin, authorize))
	cs.srv = httptest.NewServer(mux)
	t.Cleanup(cs.srv.Close)
	return cs
}

func (cs *codecServer) do(t *testing.T, method, path string, body []byte, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, cs.srv.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	return resp, b
}

func payloadsJSON(t *testing.T, ps []*commonpb.Payload) []byte {
	t.Helper()
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: ps})
	require.NoError(t, err)
	return b
}

func decodedString(t *testing.T, body []byte) string {
	t.Helper()
	var ps commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(body, &ps))
	require.Len(t, ps.Payloads, 1)
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(ps.Payloads[0], &s))
	return s
}

var officer = map[string]string{
	"Origin":        uiOrigin,
	"Content-Type":  "application/json",
	"X-Namespace":   "default",
	"Authorization": "Bearer officer-token",
}

func TestHandlerDecodesForAnAuthorizedOfficer(t *testing.T) {
	cs := newCodecServer(t)
	enc, err := cs.codec.Encode(plainPayloads(t, secret))
	require.NoError(t, err)

	resp, body := cs.do(t, http.MethodPost, "/temporal-codec/decode", payloadsJSON(t, enc), officer)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, secret, decodedString(t, body))
	require.Equal(t, uiOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
}

func TestHandlerEncodes(t *testing.T) {
	cs := newCodecServer(t)
	resp, body := cs.do(t, http.MethodPost, "/temporal-codec/encode", payloadsJSON(t, plainPayloads(t, secret)), officer)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.NotContains(t, string(body), secret)
	var ps commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(body, &ps))
	dec, err := cs.codec.Decode(ps.Payloads)
	require.NoError(t, err)
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(dec[0], &s))
	require.Equal(t, secret, s)
}

func TestHandlerRefusesWithoutAuthorization(t *testing.T) {
	cs := newCodecServer(t)
	enc, err := cs.codec.Encode(plainPayloads(t, secret))
	require.NoError(t, err)

	for name, auth := range map[string]string{"none": "", "wrong": "Bearer guess"} {
		t.Run(name, func(t *testing.T) {
			h := map[string]string{"Origin": uiOrigin, "Content-Type": "application/json", "Authorization": auth}
			resp, body := cs.do(t, http.MethodPost, "/temporal-codec/decode", payloadsJSON(t, enc), h)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.NotContains(t, string(body), secret)
			// The UI may read the status, to tell the officer to sign in.
			require.Equal(t, uiOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
		})
	}
	resp, _ := cs.do(t, http.MethodPost, "/temporal-codec/encode", payloadsJSON(t, plainPayloads(t, "x")), map[string]string{"Origin": uiOrigin})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestHandlerAnswersThePreflight(t *testing.T) {
	cs := newCodecServer(t)
	resp, _ := cs.do(t, http.MethodOptions, "/temporal-codec/decode", nil, map[string]string{
		"Origin":                         uiOrigin,
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "content-type,x-namespace,authorization",
	})
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, uiOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
	require.Equal(t, "Content-Type, X-Namespace, Authorization", resp.Header.Get("Access-Control-Allow-Headers"))
	require.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "POST")
	require.Zero(t, cs.asked.Load(), "a preflight carries no credentials to check")
}

func TestHandlerRefusesOtherOrigins(t *testing.T) {
	cs := newCodecServer(t)
	enc, err := cs.codec.Encode(plainPayloads(t, secret))
	require.NoError(t, err)
	evil := map[string]string{"Origin": "https://evil.example", "Authorization": "Bearer officer-token"}

	resp, body := cs.do(t, http.MethodPost, "/temporal-codec/decode", payloadsJSON(t, enc), evil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.NotContains(t, string(body), secret)
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))

	resp, _ = cs.do(t, http.MethodOptions, "/temporal-codec/decode", nil, map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

func TestHandlerWithoutOriginForTheCLI(t *testing.T) {
	cs := newCodecServer(t)
	enc, err := cs.codec.Encode(plainPayloads(t, secret))
	require.NoError(t, err)
	resp, body := cs.do(t, http.MethodPost, "/temporal-codec/decode", payloadsJSON(t, enc), map[string]string{"Authorization": "Bearer officer-token"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, secret, decodedString(t, body))
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

func TestHandlerBadRequests(t *testing.T) {
	cs := newCodecServer(t)
	enc, err := cs.codec.Encode(plainPayloads(t, secret))
	require.NoError(t, err)

	resp, _ := cs.do(t, http.MethodGet, "/temporal-codec/decode", nil, officer)
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	resp, _ = cs.do(t, http.MethodPost, "/temporal-codec/decode", []byte("{not json"), officer)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	resp, _ = cs.do(t, http.MethodPost, "/temporal-codec/other", payloadsJSON(t, enc), officer)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	enc[0].Data[len(enc[0].Data)-1] ^= 1
	resp, body := cs.do(t, http.MethodPost, "/temporal-codec/decode", payloadsJSON(t, enc), officer)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(body), "tampered")

	big := []byte(`{"payloads":[{"data":"` + strings.Repeat("A", MaxRequestBytes) + `"}]}`)
	resp, _ = cs.do(t, http.MethodPost, "/temporal-codec/decode", big, officer)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}

type orgInput struct {
	OrganizationID uint64
	Note           string
}

// An organization's officer reads their organization's payloads in clear;
// another organization's come back as they were, encrypted. Untagged
// payloads (written before the tag) decode for the organization their
// content names, and for staff.
func TestHandlerDecodesOnlyTheOfficersOrganization(t *testing.T) {
	cs := newCodecServer(t)
	acmes, err := cs.codec.Encode(plainPayloads(t, orgInput{acme, "acme's note"}))
	require.NoError(t, err)
	require.Equal(t, "7", string(acmes[0].Metadata[MetadataOrganization]))
	// As the first format wrote it: no tag, the old additional data.
	legacy := legacyEncode(t, cs.codec, plainPayloads(t, orgInput{acme, "acme's old note"})[0])
	plain := plainPayloads(t, "of no organization")
	deployment, err := cs.codec.Encode(plain)
	require.NoError(t, err)
	require.NotContains(t, deployment[0].Metadata, MetadataOrganization)
	batch := payloadsJSON(t, []*commonpb.Payload{acmes[0], legacy, deployment[0]})

	decodeAs := func(token string) []string {
		h := map[string]string{"Origin": uiOrigin, "Content-Type": "application/json", "Authorization": "Bearer " + token}
		resp, body := cs.do(t, http.MethodPost, "/temporal-codec/decode", batch, h)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		var ps commonpb.Payloads
		require.NoError(t, protojson.Unmarshal(body, &ps))
		require.Len(t, ps.Payloads, 3)
		out := make([]string, 3)
		for i, p := range ps.Payloads {
			out[i] = string(p.Metadata[MetadataEncoding]) + " " + string(p.Data)
		}
		return out
	}
	got := decodeAs("acme-officer")
	require.Contains(t, got[0], "acme's note")
	require.Contains(t, got[1], "acme's old note")
	require.True(t, strings.HasPrefix(got[2], EncodingEncrypted), "a payload of no organization is not the officer's")

	got = decodeAs("globex-officer")
	for i, g := range got {
		require.True(t, strings.HasPrefix(g, EncodingEncrypted), "payload %d decoded for another organization: %s", i, g)
		require.NotContains(t, g, "note")
	}

	got = decodeAs("officer-token") // staff
	require.Contains(t, got[0], "acme's note")
	require.Contains(t, got[1], "acme's old note")
	require.Contains(t, got[2], "of no organization")

	// Encoding is for staff only.
	h := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer acme-officer"}
	resp, _ := cs.do(t, http.MethodPost, "/temporal-codec/encode", payloadsJSON(t, plain), h)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

// The tag is bound to the ciphertext: changed or removed, decoding fails.
func TestOrganizationTagIsBound(t *testing.T) {
	c := newCodec(t, 1, map[uint32][]byte{1: key(1)})
	enc, err := c.Encode(plainPayloads(t, orgInput{acme, "x"}))
	require.NoError(t, err)
	for name, mutate := range map[string]func(p *commonpb.Payload){
		"changed": func(p *commonpb.Payload) { p.Metadata[MetadataOrganization] = []byte("8") },
		"removed": func(p *commonpb.Payload) { delete(p.Metadata, MetadataOrganization) },
		"garbled": func(p *commonpb.Payload) { p.Metadata[MetadataOrganization] = []byte("acme") },
	} {
		t.Run(name, func(t *testing.T) {
			p := proto.Clone(enc[0]).(*commonpb.Payload)
			mutate(p)
			_, err := c.Decode([]*commonpb.Payload{p})
			require.Error(t, err)
			_, err = c.DecodeFor(Reader{Staff: true}, []*commonpb.Payload{p})
			require.Error(t, err)
		})
	}
	_, err = c.Decode(enc)
	require.NoError(t, err)
}

// legacyEncode encrypts p as the codec did before the organization tag.
func legacyEncode(t *testing.T, c *Codec, p *commonpb.Payload) *commonpb.Payload {
	t.Helper()
	plain, err := proto.Marshal(p)
	require.NoError(t, err)
	aead := c.aeads[c.current]
	nonce := bytes.Repeat([]byte{9}, aead.NonceSize())
	return &commonpb.Payload{
		Metadata: map[string][]byte{MetadataEncoding: []byte(EncodingEncrypted), MetadataKeyID: []byte("v1")},
		Data:     aead.Seal(nonce, nonce, plain, []byte("convot temporal payload v1")),
	}
}

// The UI proxied under the codec server's own origin calls it
// same-origin, whatever host the officer typed: served, without CORS
// headers; an Origin naming another host is still refused.
func TestHandlerServesItsOwnOrigin(t *testing.T) {
	cs := newCodecServer(t)
	enc, err := cs.codec.Encode(plainPayloads(t, secret))
	require.NoError(t, err)
	own := strings.Replace(cs.srv.URL, "127.0.0.1", "localhost", 1)
	for _, origin := range []string{cs.srv.URL, own} {
		req, err := http.NewRequest(http.MethodPost, origin+"/temporal-codec/decode", bytes.NewReader(payloadsJSON(t, enc)))
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Authorization", "Bearer officer-token")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode, origin)
		require.Equal(t, secret, decodedString(t, body))
		require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	resp, _ := cs.do(t, http.MethodPost, "/temporal-codec/decode", payloadsJSON(t, enc), map[string]string{"Origin": "http://127.0.0.1:1", "Authorization": "Bearer officer-token"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "another port is another origin")
}
