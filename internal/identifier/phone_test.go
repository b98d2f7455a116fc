package identifier

import (
	"testing"
	"unicode"
)

func TestNormalizePhone(t *testing.T) {
	runCases(t, Phone, []normCase{
		{"+14155552671", "+14155552671"},
		{"+1 415 555 2671", "+14155552671"},
		{"+1 (415) 555-2671", "+14155552671"},
		{"+1.415.555.2671", "+14155552671"},
		{"+1/415/555/2671", "+14155552671"},
		{" +1 415 555 2671 ", "+14155552671"},
		{"＋１ ４１５ ５５５ ２６７１", "+14155552671"},
		{"+1\u00a0415\u00a0555\u00a02671", "+14155552671"},
		{"+1\u200b415\u2060555\u00ad2671", "+14155552671"},
		{"+44 20 7946 0958", "+442079460958"},
		{"+44 (0)20 7946 0958", "+442079460958"},
		{"+٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨", "+442079460958"},
		{"+39 06 1234 5678", "+390612345678"}, // Italian leading zero is kept
		{"+49 30 901820", "+4930901820"},
		{"+81 3-1234-5678", "+81312345678"},

		{"14155552671", ""},
		{"(415) 555-2671", ""},
		{"001 415 555 2671", ""},
		{"+1 800 FLOWERS", ""},
		{"+1 415 555 2671 ext. 12", ""},
		{"+1 415 555 2671;ext=12", ""},
		{"+1 415 555 2671 x12", ""},
		{"++14155552671", ""},
		{"+1+4155552671", ""},
		{"+", ""},
		{"+1", ""},
		{"+1 555 0100", ""}, // too short
		{"+1 415 555 26719999", ""},
		{"+999 1234 5678", ""},  // no such country code
		{"+1 000 555 2671", ""}, // invalid area code
		{"+123456789012345678", ""},
		{"+1\n415 555 2671", ""},
		{"+1 415_555_2671", ""},
		{"tel:+14155552671", ""},
	})
}

func TestDigitValue(t *testing.T) {
	for _, rg := range unicode.Nd.R16 {
		if rg.Stride != 1 || (rg.Hi-rg.Lo+1)%10 != 0 {
			t.Errorf("Nd range %U-%U stride %d is not whole runs of ten digits", rg.Lo, rg.Hi, rg.Stride)
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if rg.Stride != 1 || (rg.Hi-rg.Lo+1)%10 != 0 {
			t.Errorf("Nd range %U-%U stride %d is not whole runs of ten digits", rg.Lo, rg.Hi, rg.Stride)
		}
	}
	for r, want := range map[rune]byte{'0': 0, '7': 7, '٣': 3, '۹': 9, '९': 9, '๕': 5, '𝟝': 5, '１': 1} {
		if got := digitValue(r); got != want {
			t.Errorf("digitValue(%q) = %d, want %d", r, got, want)
		}
	}
}
