package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseMasterKeys(t *testing.T) {
	v1, v2 := GenerateMasterKey(1), GenerateMasterKey(2)
	m, err := ParseMasterKeys(v2 + "," + v1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Current() != 2 || len(m.Versions()) != 2 {
		t.Fatalf("current v%d, versions %v", m.Current(), m.Versions())
	}
	bare := v1[len("v1:"):]
	if m, err := ParseMasterKeys(bare); err != nil || m.Current() != 1 {
		t.Fatalf("a bare key is version 1: %v", err)
	}
	for _, bad := range []string{"", "short", "v0:" + bare, "vX:" + bare, v1 + "," + v1, "v1:!!!"} {
		if _, err := ParseMasterKeys(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWrapUnwrapAcrossVersions(t *testing.T) {
	v1, v2 := GenerateMasterKey(1), GenerateMasterKey(2)
	old, _ := ParseMasterKeys(v1)
	dataKey := RandomKey()
	version, wrapped, err := old.Wrap(dataKey)
	if err != nil || version != 1 {
		t.Fatal(version, err)
	}
	both, _ := ParseMasterKeys(v2 + "," + v1)
	got, err := both.Unwrap(version, wrapped)
	if err != nil || !bytes.Equal(got, dataKey) {
		t.Fatalf("unwrap under the old version after adding a new one: %v", err)
	}
	only2, _ := ParseMasterKeys(v2)
	if _, err := only2.Unwrap(1, wrapped); err == nil {
		t.Fatal("unwrapped without the master key version")
	}
}

func TestSealOpen(t *testing.T) {
	key := RandomKey()
	sealed, err := Seal(key, []byte("alice@example.com"), []byte("contacts.email"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("alice")) {
		t.Fatal("plaintext in ciphertext")
	}
	if plain, err := Open(key, sealed, []byte("contacts.email")); err != nil || string(plain) != "alice@example.com" {
		t.Fatalf("open: %q %v", plain, err)
	}
	if _, err := Open(key, sealed, []byte("contacts.name")); !errors.Is(err, ErrTampered) {
		t.Fatal("opened under another associated data")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := Open(key, sealed, []byte("contacts.email")); !errors.Is(err, ErrTampered) {
		t.Fatal("tampered ciphertext opened")
	}
	if _, err := Open(key, []byte("x"), nil); !errors.Is(err, ErrTampered) {
		t.Fatal("short ciphertext opened")
	}
}

func TestBlindIndexIsKeyedAndNormalised(t *testing.T) {
	k1, k2 := RandomKey(), RandomKey()
	if BlindIndex(k1, "Alice@Example.com ") != BlindIndex(k1, "alice@example.com") {
		t.Fatal("case or spaces change the index")
	}
	if BlindIndex(k1, "alice@example.com") == BlindIndex(k2, "alice@example.com") {
		t.Fatal("the index does not depend on the key")
	}
}
