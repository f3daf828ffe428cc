package registry

import (
	"testing"
)

func TestCheckCronSchedule(t *testing.T) {
	for _, tc := range []struct {
		spec, err string
	}{
		{spec: "*/5 * * * *"},
		{spec: "0 3 * * mon-fri"},
		{spec: "15,45 8-18/2 1,15 JAN-jun ?"},
		{spec: "0 0 L * *", err: "failed to parse int from L: strconv.Atoi: parsing \"L\": invalid syntax"},
		{spec: "@hourly"},
		{spec: "@every 1h30m"},
		{spec: "CRON_TZ=Europe/Berlin 0 9 * * *"},
		{spec: "TZ=Nowhere/City 0 9 * * *", err: "provided bad location Nowhere/City: unknown time zone Nowhere/City"},
		{spec: "", err: "empty spec string"},
		{spec: "* * *", err: "expected exactly 5 fields, found 3: [* * *]"},
		{spec: "* * * * * *", err: "expected exactly 5 fields, found 6: [* * * * * *]"},
		{spec: "60 * * * *", err: "end of range (60) above maximum (59): 60"},
		{spec: "* * 0 * *", err: "beginning of range (0) below minimum (1): 0"},
		{spec: "5-1 * * * *", err: "beginning of range (5) beyond end of range (1): 5-1"},
		{spec: "*/0 * * * *", err: "step of range should be a positive number: */0"},
		{spec: "1-2-3 * * * *", err: "too many hyphens: 1-2-3"},
		{spec: "*/2/3 * * * *", err: "too many slashes: */2/3"},
		{spec: "* * * * 7", err: "end of range (7) above maximum (6): 7"},
		{spec: "@fortnightly", err: "unrecognized descriptor: @fortnightly"},
		{spec: "@every soon", err: "failed to parse duration @every soon: time: invalid duration \"soon\""},
	} {
		err := checkCronSchedule(tc.spec)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.err {
			t.Errorf("checkCronSchedule(%q) = %q, want %q", tc.spec, got, tc.err)
		}
	}
}

func FuzzCheckCronSchedule(f *testing.F) {
	for _, s := range []string{"*/5 * * * *", "0 3 * * mon-fri", "@every 1h", "CRON_TZ=UTC 1-5/2 * ? JAN *", "1-2-3/4/5 * * * *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		_ = checkCronSchedule(spec)
	})
}
