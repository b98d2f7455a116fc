package password

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
)

// legacyHashes returns hashes of pw in every imported format, made with
// the reference implementations.
func legacyHashes(t testing.TB, pw string) map[string]string {
	t.Helper()
	salt := []byte("0123456789abcdef")
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := scrypt.Key([]byte(pw), salt, 1<<4, 8, 1, 32)
	pk, _ := pbkdf2.Key(sha256.New, pw, salt, 1000, 32)
	ab64 := func(b []byte) string {
		return strings.ReplaceAll(base64.RawStdEncoding.EncodeToString(b), "+", ".")
	}
	b64 := base64.RawStdEncoding.EncodeToString
	return map[string]string{
		AlgBcrypt:                   string(b),
		AlgArgon2i:                  fmt.Sprintf("$argon2i$v=19$m=64,t=1,p=1$%s$%s", b64(salt), b64(argon2.Key([]byte(pw), salt, 1, 64, 1, 32))),
		AlgScrypt:                   fmt.Sprintf("$scrypt$ln=4,r=8,p=1$%s$%s", b64(salt), b64(sk)),
		AlgPBKDF2SHA256:             fmt.Sprintf("$pbkdf2-sha256$1000$%s$%s", ab64(salt), ab64(pk)),
		"django " + AlgPBKDF2SHA256: fmt.Sprintf("pbkdf2_sha256$1000$%s$%s", salt, base64.StdEncoding.EncodeToString(pk)),
	}
}

// imported hashes of every supported algorithm verify the right
// password only, and always need rehashing to argon2id.
func TestLegacyVerify(t *testing.T) {
	const pw = "correct horse battery staple"
	for name, h := range legacyHashes(t, pw) {
		alg, err := Algorithm(h)
		if err != nil || !strings.HasSuffix(name, alg) {
			t.Errorf("%s: Algorithm(%q) = %q, %v", name, h, alg, err)
		}
		if ok, err := Verify(pw, h); !ok || err != nil {
			t.Errorf("%s: Verify(right) = %v, %v", name, ok, err)
		}
		if ok, _ := Verify(pw+"!", h); ok {
			t.Errorf("%s: Verify(wrong) = true", name)
		}
		if !NeedsRehash(h, OWASP) {
			t.Errorf("%s: NeedsRehash = false, want true", name)
		}
	}
}

// R-03 (F-20): bcrypt reads 72 bytes; a password that differs from the
// stored one only after byte 72 must not verify.
func TestBcryptNoTruncation(t *testing.T) {
	long := strings.Repeat("a", 72)
	h, err := bcrypt.GenerateFromPassword([]byte(long), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := Verify(long, string(h)); !ok {
		t.Fatal("Verify(the 72-byte password) = false")
	}
	if ok, _ := Verify(long+"anything", string(h)); ok {
		t.Error("Verify(password differing after byte 72) = true, want false")
	}
}

// Imported hashes out of bounds or malformed are refused as invalid.
func TestLegacyRefused(t *testing.T) {
	for _, h := range []string{
		"", "plain", "$2a$31$" + strings.Repeat("a", 53), "$2x$10$" + strings.Repeat("a", 53),
		"$scrypt$ln=30,r=8,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"$scrypt$r=8,ln=4,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"$pbkdf2-sha256$99999999$c2FsdA$" + strings.Repeat("A", 43),
		"$pbkdf2-sha256$01000$c2FsdA$" + strings.Repeat("A", 43),
		"pbkdf2_sha256$1000$$" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"$argon2i$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"$md5$x$y",
	} {
		if alg, err := Algorithm(h); err == nil {
			t.Errorf("Algorithm(%q) = %q, want an error", h, alg)
		}
	}
}

// FuzzAlgorithm: the parser of imported hashes never panics, and names an
// algorithm for what it accepts.
func FuzzAlgorithm(f *testing.F) {
	for _, h := range legacyHashes(f, "seed password") {
		f.Add(h)
	}
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, h string) {
		if alg, err := Algorithm(h); err == nil && alg == "" {
			t.Errorf("Algorithm(%q) accepted it without naming an algorithm", h)
		}
	})
}
