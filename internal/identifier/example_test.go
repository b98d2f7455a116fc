package identifier_test

import (
	"fmt"
	"strings"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/identifier"
)

func ExampleNormalize() {
	for _, in := range []struct {
		typ   identifier.Type
		value string
	}{
		{identifier.Email, " Alice\u200b@Bücher.DE "},
		{identifier.Phone, "+44 (0)20 7946 0958"},
		{identifier.Username, "Ｓtraße_42"},
		{identifier.Username, "аlice"}, // Cyrillic а
	} {
		c, err := identifier.Normalize(in.typ, in.value)
		if err != nil {
			msg, _ := fault.PublicOf(err)
			fmt.Println("refused:", msg)
			continue
		}
		fmt.Println(c)
	}
	// Output:
	// alice@xn--bcher-kva.de
	// +442079460958
	// strasse_42
	// refused: invalid username: the value may hold only the letters a-z, digits and the separators _ - .
}

func ExampleNormalizers() {
	// The composition root plugs in the Ethereum normalizers once.
	n := identifier.Normalizers{
		Wallet: func(s string) (string, error) { return strings.ToLower(s), nil }, // stands in for CAIP-10
	}
	c, err := n.Normalize(identifier.Wallet, "eip155:1:0xAB")
	fmt.Println(c, err)
	_, err = n.Normalize(identifier.ENS, "nick.eth")
	msg, _ := fault.PublicOf(err)
	fmt.Println(msg)
	// Output:
	// eip155:1:0xab <nil>
	// identifier type not supported yet
}
