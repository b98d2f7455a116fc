package kind

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atriumid/atrium/internal/fault"
)

const contactDoc = `
kinds:
  user:
    id_prefix: usr
    lifecycle: {initial: active}
    fragments:
      contact:
        sensitivity: pii
        schema:
          type: object
          additionalProperties: false
          required: [name]
          properties:
            name:  {type: string, minLength: 1, maxLength: 5}
            email: {type: string, format: email}
            age:   {type: integer, minimum: 0, maximum: 150}
            score: {type: number, exclusiveMaximum: 0.5, multipleOf: 0.1}
            label: {enum: [home, work]}
            tags:  {type: array, uniqueItems: true, maxItems: 3}
            phone: {oneOf: [{type: string, pattern: "^\\+[0-9]+$"}, {type: "null"}]}
            addresses:
              type: array
              items:
                type: object
                required: [city]
                properties:
                  city: {type: string}
                  zip:  {type: string, pattern: "^[0-9]{5}$"}
`

// decode decodes JSON as the account service does: numbers as json.Number.
func decode(t *testing.T, text string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode(%s): %v", text, err)
	}
	return v
}

func contactFragment(t *testing.T) *Fragment {
	t.Helper()
	s, err := Load([]byte(contactDoc), CompileOptions{})
	if err != nil {
		t.Fatalf("Load(contactDoc) = %v", err)
	}
	k, _ := s.Kind("user")
	f, ok := k.Fragment("contact")
	if !ok {
		t.Fatal("Fragment(contact) not found")
	}
	return f
}

func TestFragmentValidate(t *testing.T) {
	f := contactFragment(t)
	tests := []struct {
		name string
		data string
		want []fault.Violation
	}{
		{"valid", `{"name": "Ada", "email": "ada@example.com", "age": 36, "addresses": [{"city": "London", "zip": "12345"}], "phone": null}`, nil},
		{"root not an object", `[1]`, []fault.Violation{vio("", "must be of type object, not array")}},
		{"missing required", `{}`, []fault.Violation{vio("name", "is required")}},
		{"too long", `{"name": "Adaline"}`, []fault.Violation{vio("name", "must be at most 5 characters long")}},
		{"too short", `{"name": ""}`, []fault.Violation{vio("name", "must be at least 1 character long")}},
		{"unknown property", `{"name": "Ada", "nick": "A"}`, []fault.Violation{vio("nick", "is not an allowed property")}},
		{"format", `{"name": "Ada", "email": "not an email"}`, []fault.Violation{vio("email", "is not a valid email")}},
		{"integer", `{"name": "Ada", "age": 3.5}`, []fault.Violation{vio("age", "must be of type integer, not number")}},
		{"maximum", `{"name": "Ada", "age": 151}`, []fault.Violation{vio("age", "must be at most 150")}},
		{"minimum", `{"name": "Ada", "age": -1}`, []fault.Violation{vio("age", "must be at least 0")}},
		{"exclusive maximum", `{"name": "Ada", "score": 0.5}`, []fault.Violation{vio("score", "must be less than 0.5")}},
		{"multiple of", `{"name": "Ada", "score": 0.25}`, []fault.Violation{vio("score", "must be a multiple of 0.1")}},
		{"enum", `{"name": "Ada", "label": "school"}`, []fault.Violation{vio("label", `must be one of the allowed values: "home", "work"`)}},
		{"unique items", `{"name": "Ada", "tags": ["a", "a"]}`, []fault.Violation{vio("tags", "must not repeat items (items 0 and 1 are equal)")}},
		{"max items", `{"name": "Ada", "tags": ["a", "b", "c", "d"]}`, []fault.Violation{vio("tags", "must have at most 3 items")}},
		{"one of", `{"name": "Ada", "phone": 5}`, []fault.Violation{vio("phone", "does not match any of the allowed shapes")}},
		{"nested required", `{"name": "Ada", "addresses": [{"city": "Paris"}, {"zip": "12345"}]}`,
			[]fault.Violation{vio("addresses.1.city", "is required")}},
		{"nested pattern", `{"name": "Ada", "addresses": [{"city": "Paris", "zip": "1234"}]}`,
			[]fault.Violation{vio("addresses.0.zip", `does not match the pattern "^[0-9]{5}$"`)}},
		{"many problems", `{"name": "Adaline", "age": "old", "nick": 1, "addresses": [{"city": 7}]}`, []fault.Violation{
			vio("addresses.0.city", "must be of type string, not number"),
			vio("age", "must be of type integer, not string"),
			vio("name", "must be at most 5 characters long"),
			vio("nick", "is not an allowed property"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.Validate(decode(t, tt.data))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate(%s) (-want +got):\n%s", tt.data, diff)
			}
		})
	}
}

// TestFragmentValidateHidesValues checks that no reason repeats the data:
// fragments may hold personal data, and violations reach logs and clients.
func TestFragmentValidateHidesValues(t *testing.T) {
	f := contactFragment(t)
	const secret = "s3cr3t-V4LUE"
	data := `{"name": "` + secret + `", "email": "` + secret + `", "label": "` + secret + `", "phone": "` + secret +
		`", "age": "` + secret + `", "tags": ["` + secret + `", "` + secret + `"], "addresses": [{"city": "x", "zip": "` + secret + `"}]}`
	vs := f.Validate(decode(t, data))
	if len(vs) < 7 {
		t.Errorf("Validate(…) = %d violations, want at least 7: %v", len(vs), vs)
	}
	for _, v := range vs {
		if strings.Contains(v.Reason, secret) || strings.Contains(v.Field, secret) {
			t.Errorf("violation %+v repeats the value", v)
		}
	}
}

func TestFragmentValidateNotJSON(t *testing.T) {
	f := contactFragment(t)
	got := f.Validate(map[string]any{"name": struct{}{}})
	want := []fault.Violation{vio("name", "is not a valid JSON value")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate(struct) (-want +got):\n%s", diff)
	}
}

func TestBuiltinFragments(t *testing.T) {
	s := loadBuiltin(t)
	tests := []struct {
		kind, fragment, data string
		want                 []fault.Violation
	}{
		{"org", "profile", `{"name": "Acme"}`, nil},
		{"org", "profile", `{}`, []fault.Violation{vio("name", "is required")}},
		{"org", "profile", `{"name": "` + strings.Repeat("a", 201) + `"}`, []fault.Violation{vio("name", "must be at most 200 characters long")}},
		{"org", "tax_id", `{"ein": "12-3456789"}`, nil},
		{"org", "tax_id", `{"ein": "123456789"}`, []fault.Violation{vio("ein", `does not match the pattern "^[0-9]{2}-[0-9]{7}$"`)}},
		{"user", "profile", `{}`, nil},
		{"user", "profile", `{"display_name": "Ada", "given_name": "Ada", "family_name": "Lovelace", "locale": "en-GB", "avatar_url": "https://example.com/a.png"}`, nil},
		{"user", "profile", `{"locale": "english!", "avatar_url": "not a uri"}`, []fault.Violation{
			vio("avatar_url", "is not a valid uri"),
			vio("locale", `does not match the pattern "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"`),
		}},
		{"user", "contact", `{"email": "ada@example.com", "phone": "+442071234567", "address": {"lines": ["1 Main St"], "country": "GB"}}`, nil},
		{"user", "contact", `{"phone": "020 7123 4567", "address": {"country": "gb"}}`, []fault.Violation{
			vio("address.country", `does not match the pattern "^[A-Z]{2}$"`),
			vio("phone", `does not match the pattern "^\\+[1-9][0-9]{1,14}$"`),
		}},
		{"user", "agreements", `{"accepted": [{"document": "terms", "version": "2026-01", "accepted_at": "2026-01-02T03:04:05Z"}]}`, nil},
		{"user", "agreements", `{"accepted": [{"document": "terms", "accepted_at": "yesterday"}]}`, []fault.Violation{
			vio("accepted.0.accepted_at", "is not a valid date-time"),
			vio("accepted.0.version", "is required"),
		}},
		{"service", "profile", `{"name": "billing"}`, nil},
		{"service", "profile", `{"description": "bills"}`, []fault.Violation{vio("name", "is required")}},
	}
	for _, tt := range tests {
		k, _ := s.Kind(tt.kind)
		f, ok := k.Fragment(tt.fragment)
		if !ok {
			t.Fatalf("Kind(%s).Fragment(%s) not found", tt.kind, tt.fragment)
		}
		if diff := cmp.Diff(tt.want, f.Validate(decode(t, tt.data))); diff != "" {
			t.Errorf("%s.%s Validate(%.60s) (-want +got):\n%s", tt.kind, tt.fragment, tt.data, diff)
		}
	}
}

func TestFragmentInternalReferences(t *testing.T) {
	doc := orgSchema(`{$schema: "https://json-schema.org/draft/2020-12/schema", type: object,
		$defs: {city: {type: string, maxLength: 3}},
		properties: {home: {$ref: "#/$defs/city"}, work: {$ref: "#/$defs/city"}}}`)
	s, err := Load([]byte(doc), CompileOptions{})
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	k, _ := s.Kind("org")
	f, _ := k.Fragment("p")
	got := f.Validate(decode(t, `{"home": "Rome", "work": "Oslo"}`))
	want := []fault.Violation{vio("home", "must be at most 3 characters long"), vio("work", "must be at most 3 characters long")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
}
