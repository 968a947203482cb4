package mail

import (
	"bytes"
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Mail HTML is never trusted: inbound HTML becomes plain text before it
// is a message, and the dev mailbox shows HTML only sanitized and inside a
// sandboxed frame.

// maxHTMLBytes bounds the HTML that is parsed.
const maxHTMLBytes = 2 << 20

// droppedElements lose their whole content: code, styles, embedded
// documents, forms and metadata are never shown or turned into text.
var droppedElements = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Iframe: true, atom.Frame: true, atom.Frameset: true,
	atom.Object: true, atom.Embed: true, atom.Applet: true, atom.Noscript: true, atom.Template: true,
	atom.Head: true, atom.Title: true, atom.Meta: true, atom.Link: true, atom.Base: true,
	atom.Form: true, atom.Input: true, atom.Button: true, atom.Select: true, atom.Textarea: true,
	atom.Svg: true, atom.Math: true, atom.Audio: true, atom.Video: true, atom.Source: true, atom.Track: true,
	atom.Canvas: true, atom.Dialog: true,
}

// allowedElements are kept by SanitizeHTML (with allowedAttributes only);
// other elements are unwrapped: their text stays, the element goes.
var allowedElements = map[atom.Atom]bool{
	atom.P: true, atom.Br: true, atom.Div: true, atom.Span: true, atom.A: true, atom.B: true, atom.Strong: true,
	atom.I: true, atom.Em: true, atom.U: true, atom.S: true, atom.Small: true, atom.Sub: true, atom.Sup: true,
	atom.Ul: true, atom.Ol: true, atom.Li: true, atom.Dl: true, atom.Dt: true, atom.Dd: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Blockquote: true, atom.Pre: true, atom.Code: true, atom.Hr: true,
	atom.Table: true, atom.Thead: true, atom.Tbody: true, atom.Tfoot: true, atom.Tr: true, atom.Td: true, atom.Th: true,
	atom.Img: true, atom.Center: true, atom.Font: true,
}

var allowedAttributes = map[string]bool{
	"href": true, "src": true, "alt": true, "title": true, "width": true, "height": true,
	"align": true, "colspan": true, "rowspan": true, "style": true, "color": true,
}

// SanitizeHTML keeps the harmless formatting of an email's HTML: no
// scripts, styles sheets, frames, forms or event handlers, links only to
// http(s) and mailto, images only from data: URLs (remote images would tell
// the sender the mail was opened). Inline style attributes stay; the dev
// mailbox's frame forbids what they could load.
func SanitizeHTML(s string) string {
	if len(s) > maxHTMLBytes {
		s = s[:maxHTMLBytes]
	}
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		return html.EscapeString(s)
	}
	var b bytes.Buffer
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			switch c.Type {
			case html.TextNode:
				b.WriteString(html.EscapeString(c.Data))
			case html.ElementNode:
				if droppedElements[c.DataAtom] || c.DataAtom == 0 {
					if c.DataAtom == 0 { // unknown element: keep its text only
						walk(c)
					}
					continue
				}
				if !allowedElements[c.DataAtom] {
					walk(c)
					continue
				}
				b.WriteByte('<')
				b.WriteString(c.DataAtom.String())
				for _, a := range c.Attr {
					key := strings.ToLower(a.Key)
					if a.Namespace != "" || !allowedAttributes[key] {
						continue
					}
					val := a.Val
					switch key {
					case "href":
						if !safeLink(val) {
							continue
						}
					case "src":
						if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(val)), "data:image/") {
							continue
						}
					case "style":
						if unsafeStyle(val) {
							continue
						}
					}
					b.WriteByte(' ')
					b.WriteString(key)
					b.WriteString(`="`)
					b.WriteString(html.EscapeString(val))
					b.WriteByte('"')
				}
				if c.DataAtom == atom.A {
					b.WriteString(` rel="noopener noreferrer" target="_blank"`)
				}
				b.WriteByte('>')
				if voidElement(c.DataAtom) {
					continue
				}
				walk(c)
				b.WriteString("</")
				b.WriteString(c.DataAtom.String())
				b.WriteByte('>')
			case html.DocumentNode:
				walk(c)
			}
		}
	}
	walk(doc)
	return b.String()
}

func voidElement(a atom.Atom) bool {
	return a == atom.Br || a == atom.Hr || a == atom.Img
}

func safeLink(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "mailto:")
}

// unsafeStyle refuses style attributes that could load anything or run
// script in old engines.
func unsafeStyle(v string) bool {
	v = strings.ToLower(v)
	return strings.Contains(v, "url(") || strings.Contains(v, "expression") || strings.Contains(v, "@import") ||
		strings.Contains(v, "javascript:") || strings.Contains(v, "\\")
}

// blockElements end a line of text.
var blockElements = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Br: true, atom.Li: true, atom.Tr: true, atom.H1: true, atom.H2: true,
	atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true, atom.Blockquote: true, atom.Pre: true,
	atom.Hr: true, atom.Table: true, atom.Ul: true, atom.Ol: true, atom.Dt: true, atom.Dd: true, atom.Center: true,
}

// HTMLToText turns an email's HTML into plain text: the text of the
// document without scripts, styles or markup, one line per block, links
// written as "text (url)" when the url says more than the text.
func HTMLToText(s string) string {
	if len(s) > maxHTMLBytes {
		s = s[:maxHTMLBytes]
	}
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		return ""
	}
	var b strings.Builder
	newline := func() {
		str := b.String()
		if str != "" && !strings.HasSuffix(str, "\n") {
			b.WriteByte('\n')
		}
	}
	var walk func(n *html.Node, pre bool)
	walk = func(n *html.Node, pre bool) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			switch c.Type {
			case html.TextNode:
				text := c.Data
				if !pre {
					text = collapseSpace(text)
					if strings.HasSuffix(b.String(), "\n") || b.Len() == 0 {
						text = strings.TrimLeft(text, " ")
					}
				}
				b.WriteString(text)
			case html.ElementNode, html.DocumentNode:
				if droppedElements[c.DataAtom] {
					continue
				}
				block := blockElements[c.DataAtom]
				if block {
					newline()
				}
				if c.DataAtom == atom.Li {
					b.WriteString("- ")
				}
				walk(c, pre || c.DataAtom == atom.Pre)
				if c.DataAtom == atom.A {
					for _, a := range c.Attr {
						if a.Key == "href" && safeLink(a.Val) {
							href := strings.TrimSpace(a.Val)
							if !strings.Contains(textOf(c), strings.TrimPrefix(href, "mailto:")) {
								b.WriteString(" (" + href + ")")
							}
						}
					}
				}
				if block {
					newline()
				}
			}
		}
	}
	walk(doc, false)
	lines := strings.Split(b.String(), "\n")
	out := make([]string, 0, len(lines))
	blank := 0
	for _, l := range lines {
		l = strings.TrimRightFunc(l, unicode.IsSpace)
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				b.WriteString(c.Data)
			}
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func collapseSpace(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}
