package mail

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

const hostileHTML = `<html><head><title>T</title><style>body{background:url(https://t.example/p.gif)}</style>
<script>alert(1)</script><meta http-equiv="refresh" content="0;url=https://evil.example"></head>
<body onload="steal()"><p>Hello <b>Ada</b>,</p>
<p>Your order <a href="https://shop.example/o/1" onclick="x()">#1</a> shipped.</p>
<a href="javascript:alert(2)">click</a><img src="https://t.example/pixel.gif"><img src="data:image/png;base64,iVBO" alt="logo">
<iframe src="https://evil.example"></iframe><form action="https://evil.example"><input name="p"></form>
<div style="background:url(https://t.example/x)">styled</div><svg><script>alert(3)</script></svg>
<ul><li>one</li><li>two</li></ul><x-custom onmouseover="y()">custom text</x-custom></body></html>`

func TestSanitizeHTML(t *testing.T) {
	got := SanitizeHTML(hostileHTML)
	for _, bad := range []string{"<script", "alert(", "onload", "onclick", "onmouseover", "javascript:", "<iframe", "<form", "<input",
		"pixel.gif", "t.example", "<meta", "<style", "<svg", "evil.example", "<title"} {
		if strings.Contains(got, bad) {
			t.Fatalf("%q survived: %s", bad, got)
		}
	}
	for _, good := range []string{"<b>Ada</b>", `<a href="https://shop.example/o/1" rel="noopener noreferrer" target="_blank">#1</a>`,
		`src="data:image/png;base64,iVBO"`, "<li>one</li>", "custom text", "styled"} {
		if !strings.Contains(got, good) {
			t.Fatalf("%q lost: %s", good, got)
		}
	}
}

func TestHTMLToText(t *testing.T) {
	got := HTMLToText(hostileHTML)
	for _, bad := range []string{"alert", "steal", "background", "<", "T\n"} {
		if strings.Contains(got, bad) {
			t.Fatalf("%q in text: %q", bad, got)
		}
	}
	for _, good := range []string{"Hello Ada,", "Your order #1 (https://shop.example/o/1) shipped.", "- one\n- two", "custom text"} {
		if !strings.Contains(got, good) {
			t.Fatalf("%q missing from %q", good, got)
		}
	}
	if HTMLToText("<p>a</p><p></p><p></p><p>b</p>") != "a\n\nb" && HTMLToText("<p>a</p><p></p><p></p><p>b</p>") != "a\nb" {
		t.Fatalf("%q", HTMLToText("<p>a</p><p></p><p></p><p>b</p>"))
	}
	if got := HTMLToText("<pre>  two\n  lines</pre>"); got != "two\n  lines" {
		t.Fatalf("pre: %q", got)
	}
}

// FuzzSanitizeHTML: whatever the input, the sanitized HTML, parsed again
// as a browser would, holds no script, frame, form or event handler, no
// link but http(s) and mailto and no image but data: URLs; and turning
// any input into text never panics.
func FuzzSanitizeHTML(f *testing.F) {
	f.Add(hostileHTML)
	f.Add("<p>plain</p>")
	f.Add("<scr<script>ipt>alert(1)</script>")
	f.Add(`<a href=" javascript:x">a</a><img src=x onerror=y>`)
	f.Add(`<p title="&quot; onclick=&quot;x">t</p>`)
	f.Fuzz(func(t *testing.T, s string) {
		_ = HTMLToText(s)
		clean := SanitizeHTML(s)
		doc, err := html.Parse(strings.NewReader(clean))
		if err != nil {
			t.Fatal(err)
		}
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				if droppedElements[n.DataAtom] && n.DataAtom != atom.Head && n.DataAtom != atom.Title {
					t.Fatalf("element %s survived in %q", n.Data, clean)
				}
				for _, a := range n.Attr {
					key := strings.ToLower(a.Key)
					switch {
					case strings.HasPrefix(key, "on"):
						t.Fatalf("handler %s survived in %q", key, clean)
					case key == "href" && !safeLink(a.Val):
						t.Fatalf("href %q survived", a.Val)
					case key == "src" && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "data:image/"):
						t.Fatalf("src %q survived", a.Val)
					}
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
	})
}
