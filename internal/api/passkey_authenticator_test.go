package api_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"
)

// Authenticator data flags (W3C WebAuthn L2 §6.1).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagAT = 0x40 // attested credential data included
)

// softwareAuthenticator is a WebAuthn authenticator in software, for
// tests: each credential is an ECDSA P-256 key, registration answers with
// a "none" attestation, and every field a relying party checks (client
// data type, challenge and origin, the RP ID hash, the flags, the sign
// count) can be set wrong on purpose. It encodes its CBOR itself rather
// than with the library under test.
type softwareAuthenticator struct {
	t      *testing.T
	origin string // the origin put in client data
	rpID   string // the RP ID whose hash goes in authenticator data
	flags  byte   // UP|UV unless a test drops one
	creds  []*softwareCredential
}

// softwareCredential is one discoverable credential of a
// softwareAuthenticator.
type softwareCredential struct {
	id     []byte
	key    *ecdsa.PrivateKey
	handle []byte // the user handle it was created for
	count  uint32 // the next sign count is count+1 unless a test sets it
	// noCounter makes the credential send 0 every time, as authenticators
	// that keep no sign count (most synced passkeys) do.
	noCounter bool
}

func newSoftwareAuthenticator(t *testing.T) *softwareAuthenticator {
	return &softwareAuthenticator{t: t, origin: passkeyOrigin, rpID: passkeyRPID, flags: flagUP | flagUV}
}

var b64 = base64.RawURLEncoding

// publicKeyOptions returns options.publicKey of a ceremony response.
func publicKeyOptions(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	opts, _ := body["options"].(map[string]any)
	pk, _ := opts["publicKey"].(map[string]any)
	if pk == nil {
		t.Fatalf("no options.publicKey in %v", body)
	}
	return pk
}

// create answers navigator.credentials.create with the options of a
// registration ceremony and returns the PublicKeyCredential's JSON form.
// A nil id makes a random credential ID.
func (a *softwareAuthenticator) create(body map[string]any, id []byte) map[string]any {
	a.t.Helper()
	pk := publicKeyOptions(a.t, body)
	user, _ := pk["user"].(map[string]any)
	handle, err := b64.DecodeString(user["id"].(string))
	if err != nil {
		a.t.Fatalf("user.id: %v", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		a.t.Fatal(err)
	}
	if id == nil {
		id = make([]byte, 16)
		rand.Read(id)
	}
	c := &softwareCredential{id: id, key: key, handle: handle}
	a.creds = append(a.creds, c)
	clientData := a.clientData("webauthn.create", pk["challenge"].(string))
	pub := key.PublicKey
	x, y := make([]byte, 32), make([]byte, 32)
	pub.X.FillBytes(x)
	pub.Y.FillBytes(y)
	// COSE_Key (RFC 9053): kty EC2, alg ES256, crv P-256, x, y.
	var cose cborWriter
	cose.head(5, 5)
	cose.int(1)
	cose.int(2)
	cose.int(3)
	cose.int(-7)
	cose.int(-1)
	cose.int(1)
	cose.int(-2)
	cose.bytes(x)
	cose.int(-3)
	cose.bytes(y)
	auth := a.authData(a.flags|flagAT, 0)
	auth = append(auth, make([]byte, 16)...) // AAGUID
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(id)))
	auth = append(auth, id...)
	auth = append(auth, cose.Bytes()...)
	var att cborWriter
	att.head(5, 3)
	att.text("fmt")
	att.text("none")
	att.text("attStmt")
	att.head(5, 0)
	att.text("authData")
	att.bytes(auth)
	return map[string]any{"id": b64.EncodeToString(id), "rawId": b64.EncodeToString(id), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(clientData), "attestationObject": b64.EncodeToString(att.Bytes()),
			"transports": []string{"internal"}}}
}

// get answers navigator.credentials.get with credential c (the last one
// created when nil) and returns the PublicKeyCredential's JSON form. The
// sign count moves forward by one.
func (a *softwareAuthenticator) get(body map[string]any, c *softwareCredential) map[string]any {
	a.t.Helper()
	if c == nil {
		c = a.creds[len(a.creds)-1]
	}
	if !c.noCounter {
		c.count++
	}
	pk := publicKeyOptions(a.t, body)
	clientData := a.clientData("webauthn.get", pk["challenge"].(string))
	auth := a.authData(a.flags, c.count)
	sum := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(bytes.Clone(auth), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, c.key, digest[:])
	if err != nil {
		a.t.Fatal(err)
	}
	return map[string]any{"id": b64.EncodeToString(c.id), "rawId": b64.EncodeToString(c.id), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(clientData), "authenticatorData": b64.EncodeToString(auth),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(c.handle)}}
}

func (a *softwareAuthenticator) clientData(typ, challenge string) []byte {
	b, err := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.origin, "crossOrigin": false})
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}

// authData is the RP ID hash, the flags and the sign count.
func (a *softwareAuthenticator) authData(flags byte, count uint32) []byte {
	h := sha256.Sum256([]byte(a.rpID))
	out := append(h[:], flags)
	return binary.BigEndian.AppendUint32(out, count)
}

// cborWriter writes the few CBOR items (RFC 8949) an attestation needs.
type cborWriter struct{ bytes.Buffer }

func (w *cborWriter) head(major byte, n uint64) {
	switch {
	case n < 24:
		w.WriteByte(major<<5 | byte(n))
	case n < 1<<8:
		w.WriteByte(major<<5 | 24)
		w.WriteByte(byte(n))
	case n < 1<<16:
		w.WriteByte(major<<5 | 25)
		w.Write(binary.BigEndian.AppendUint16(nil, uint16(n)))
	default:
		w.WriteByte(major<<5 | 26)
		w.Write(binary.BigEndian.AppendUint32(nil, uint32(n)))
	}
}

func (w *cborWriter) int(v int64) {
	if v < 0 {
		w.head(1, uint64(-1-v))
		return
	}
	w.head(0, uint64(v))
}

func (w *cborWriter) bytes(b []byte) {
	w.head(2, uint64(len(b)))
	w.Write(b)
}

func (w *cborWriter) text(s string) {
	w.head(3, uint64(len(s)))
	w.WriteString(s)
}
