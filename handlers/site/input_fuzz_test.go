package site

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzValidJSONText: the text check never panics, and a JSON body it
// passes decodes to strings (keys and values) without NUL, valid UTF-8,
// and without a U+FFFD the body did not hold itself (a lone surrogate
// quietly replaced).
func FuzzValidJSONText(f *testing.F) {
	f.Add([]byte(`{"body":"hello"}`))
	f.Add([]byte(`{"body":"a\u0000b"}`))
	f.Add([]byte(`{"body":"a\ud83d\ude00b","x":["\\u0000"]}`))
	f.Add([]byte("{\"body\":\"a\xffb\"}"))
	f.Add([]byte(`{"a\udc00":"\uD800"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if !ValidJSONText(body) {
			return
		}
		var v any
		if json.Unmarshal(body, &v) != nil {
			return
		}
		mayReplace := bytes.Contains(body, []byte("\uFFFD")) || strings.Contains(strings.ToLower(string(body)), "fffd")
		var walk func(any)
		check := func(s string) {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || (!mayReplace && strings.ContainsRune(s, utf8.RuneError)) {
				t.Fatalf("%q passed the check, decoding to %q", body, s)
			}
		}
		walk = func(v any) {
			switch x := v.(type) {
			case string:
				check(x)
			case []any:
				for _, e := range x {
					walk(e)
				}
			case map[string]any:
				for k, e := range x {
					check(k)
					walk(e)
				}
			}
		}
		walk(v)
	})
}
