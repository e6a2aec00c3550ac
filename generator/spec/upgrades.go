package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	// Time zones are checked with Go's embedded copy of the IANA database,
	// so that validation gives the same answer on every machine (a CI
	// image without /usr/share/zoneinfo included). system-upgrade-controller
	// reads the zoneinfo its image ships (v0.20.1: SUSE's timezone package).
	_ "time/tzdata"
)

// MaintenanceWindow is when K3s upgrades may start: the days of the week
// and the hours of those days, in a time zone. It becomes the
// system-upgrade-controller Plan's spec.window {days, startTime, endTime,
// timeZone}, which that controller parses with kured's timewindow package.
type MaintenanceWindow struct {
	// Days the window opens on: mon, tue, wed, thu, fri, sat, sun.
	Days []string `yaml:"days"`
	// Start and End are times of day, "HH:MM" (24-hour clock), Start
	// before End: the window does not cross midnight.
	Start string `yaml:"start"`
	End   string `yaml:"end"`
	// TimeZone is an IANA time zone such as Europe/Oslo; default UTC.
	TimeZone string `yaml:"timeZone,omitempty"`
}

// WindowDays are the day names a maintenance window accepts, Monday first.
var WindowDays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// DefaultWindowTimeZone is what system-upgrade-controller assumes without a
// time zone; fleetgen writes it out.
const DefaultWindowTimeZone = "UTC"

var windowTimeRe = lazyRegexp(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// RegionWindow is the maintenance window of a region: its own, else the
// fleet's, else nil (no window).
func (s *FleetSpec) RegionWindow(r *Region) *MaintenanceWindow {
	if r.MaintenanceWindow != nil {
		return r.MaintenanceWindow
	}
	return s.MaintenanceWindow
}

// String is the window as `fleetgen plan` shows it.
func (w *MaintenanceWindow) String() string {
	if w == nil {
		return "none (upgrades start as soon as a cluster syncs a new version)"
	}
	return fmt.Sprintf("%s %s-%s %s", strings.Join(w.Days, ","), w.Start, w.End, w.TimeZone)
}

func defaultWindows(s *FleetSpec) {
	if w := s.MaintenanceWindow; w != nil {
		def(&w.TimeZone, DefaultWindowTimeZone)
	}
	for i := range s.Regions {
		if w := s.Regions[i].MaintenanceWindow; w != nil {
			def(&w.TimeZone, DefaultWindowTimeZone)
		}
	}
}

func (v *validator) maintenanceWindows(s *FleetSpec) {
	if s.MaintenanceWindow != nil {
		v.window("spec.maintenanceWindow", s.MaintenanceWindow)
	}
	for i := range s.Regions {
		if w := s.Regions[i].MaintenanceWindow; w != nil {
			v.window(fmt.Sprintf("spec.regions[%d].maintenanceWindow", i), w)
		}
	}
}

// window checks one maintenance window: one error per field at most.
func (v *validator) window(p string, w *MaintenanceWindow) {
	if len(w.Days) == 0 {
		v.add(p+".days", "is empty: list the days the window opens on (%s); a window with no day would never let an upgrade start", strings.Join(WindowDays, ", "))
	}
	seen := map[string]bool{}
	for i, d := range w.Days {
		f := fmt.Sprintf("%s.days[%d]", p, i)
		switch {
		case !slices.Contains(WindowDays, d):
			v.add(f, "%q is not one of: %s", short(d), strings.Join(WindowDays, ", "))
		case seen[d]:
			v.add(f, "%q is listed twice", d)
		}
		seen[d] = true
	}
	startOK, endOK := v.windowTime(p+".start", w.Start), v.windowTime(p+".end", w.End)
	if startOK && endOK {
		switch {
		case w.End == w.Start:
			v.add(p+".end", "%q is the start time too: the window has no hours (an upgrade could never start)", w.End)
		case w.End < w.Start: // "HH:MM" strings sort as times
			v.add(p+".end", "%q is before start %q: a window cannot cross midnight (system-upgrade-controller checks the day at the local time, so such a window would close at midnight before any day not listed); choose hours within one day, such as 00:00 to 04:00", w.End, w.Start)
		}
	}
	switch {
	case w.TimeZone == "Local":
		v.add(p+".timeZone", "\"Local\" is the machine's own zone, not the site's: give an IANA time zone such as Europe/Oslo")
	default:
		if _, err := time.LoadLocation(w.TimeZone); err != nil || strings.TrimSpace(w.TimeZone) == "" {
			v.add(p+".timeZone", "%q is not an IANA time zone such as Europe/Oslo, America/Chicago or UTC", short(w.TimeZone))
		}
	}
}

func (v *validator) windowTime(field, s string) bool {
	if s == "" {
		v.add(field, "is required: a time of day such as 02:00 (24-hour clock, HH:MM)")
		return false
	}
	if !windowTimeRe().MatchString(s) {
		v.add(field, "%q is not a time of day such as 02:00 (24-hour clock, HH:MM, 00:00 to 23:59)", short(s))
		return false
	}
	return true
}

// K3sRelease is a parsed K3s release string, v1.MINOR.PATCH+k3sN.
type K3sRelease struct{ Minor, Patch, K3s int }

// ParseK3sRelease parses an exact K3s release such as v1.37.1+k3s1.
func ParseK3sRelease(s string) (K3sRelease, bool) {
	if !k3sVersionRe().MatchString(s) {
		return K3sRelease{}, false
	}
	core, k3s, _ := strings.Cut(strings.TrimPrefix(s, "v1."), "+k3s")
	minor, patch, _ := strings.Cut(core, ".")
	var r K3sRelease
	var err1, err2, err3 error
	r.Minor, err1 = strconv.Atoi(minor)
	r.Patch, err2 = strconv.Atoi(patch)
	r.K3s, err3 = strconv.Atoi(k3s)
	return r, err1 == nil && err2 == nil && err3 == nil
}

// Compare is -1, 0 or +1 as r is older than, the same as or newer than o.
func (r K3sRelease) Compare(o K3sRelease) int {
	for _, d := range [][2]int{{r.Minor, o.Minor}, {r.Patch, o.Patch}, {r.K3s, o.K3s}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}
