package prompt_test

import (
	"fmt"
	"strings"

	"github.com/fleetgen/fleetgen/generator/prompt"
)

// Values are inserted as text; continuation lines of a multi-line value are
// indented so they stay inside their bullet.
func ExampleRender() {
	out, err := prompt.Render(prompt.Options{
		Tier: prompt.Pro,
		Lang: prompt.English,
		Context: prompt.Context{
			Environment: "Offshore oil platforms\n- North Sea\n- Gulf of Mexico",
			Hardware:    "ARM64, 2GB RAM, `eMMC` {{ not a template }} $HOME",
			// Challenge and Scale left empty: the seed's examples stay as placeholders.
		},
	})
	if err != nil {
		panic(err)
	}
	lines := strings.Split(out, "\n")
	fmt.Println(strings.Join(lines[2:9], "\n"))
	// Output:
	// **Context:**
	//
	// - Environment: Offshore oil platforms
	//   - North Sea
	//   - Gulf of Mexico
	// - Hardware: ARM64, 2GB RAM, `eMMC` {{ not a template }} $HOME
	// - Main challenge: `[E.g.: Intermittent connectivity, extremely low bandwidth, risk of physical theft]`
}
