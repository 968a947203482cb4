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
)

const uiOrigin = "http://localhost:8233"

type codecServer struct {
	codec *Codec
	srv   *httptest.Server
	asked atomic.Int32 // authorize calls
}

func newCodecServer(t *testing.T) *codecServer {
	t.Helper()
	cs := &codecServer{codec: newCodec(t, 1, map[uint32][]byte{1: key(1)})}
	authorize := func(r *http.Request) bool {
		cs.asked.Add(1)
		return r.Header.Get("Authorization") == "Bearer officer-token"
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
