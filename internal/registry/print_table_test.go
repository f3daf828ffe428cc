package registry

import (
	"flag"
	"fmt"
	certificatesv1 "k8s.io/api/certificates/v1"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testNow is the clock of every printer test.
var testNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

// ago is the metav1.Time d before testNow.
func ago(d time.Duration) metav1.Time { return metav1.NewTime(testNow.Add(-d)) }

func agoPtr(d time.Duration) *metav1.Time { t := ago(d); return &t }

// om is the metadata of an object named name created age ago.
func om(name string, age time.Duration) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(age)}
}

// testScheme knows every built-in kind's Go type from k8s.io/api.
func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, networkingv1.AddToScheme,
		rbacv1.AddToScheme, storagev1.AddToScheme, coordinationv1.AddToScheme, discoveryv1.AddToScheme,
		eventsv1.AddToScheme, policyv1.AddToScheme, autoscalingv1.AddToScheme, autoscalingv2.AddToScheme,
		nodev1.AddToScheme, schedulingv1.AddToScheme, certificatesv1.AddToScheme, admissionregistrationv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// newObject returns an empty object of the resource's kind. The
// CustomResourceDefinition type lives outside k8s.io/api; its printer
// reads only metadata, which PartialObjectMetadata carries.
func newObject(t *testing.T, s *runtime.Scheme, r Resource) runtime.Object {
	t.Helper()
	gvk := r.GroupVersion().WithKind(r.Kind)
	if gvk.Group == "apiextensions.k8s.io" {
		return &metav1.PartialObjectMetadata{}
	}
	obj, err := s.New(gvk)
	if err != nil {
		t.Fatalf("no Go type for %v: %v", gvk, err)
	}
	return obj
}

func TestEveryBuiltinKindPrints(t *testing.T) {
	s := testScheme(t)
	for _, r := range Builtin() {
		if r.Ephemeral { // reviews are never read back
			continue
		}
		gk := schema.GroupKind{Group: r.Group, Kind: r.Kind}
		t.Run(r.Version+"/"+gk.String(), func(t *testing.T) {
			p := r.Strategy
			if len(p.Columns) == 0 || p.Row == nil {
				t.Fatalf("%v has no columns or no row", gk)
			}
			var names []int
			for i, c := range p.Columns {
				if c.Format == "name" {
					names = append(names, i)
				}
				switch c.Type {
				case "string", "integer", "number", "boolean", "date":
				default:
					t.Errorf("column %q: type %q", c.Name, c.Type)
				}
				if c.Description == "" {
					t.Errorf("column %q has no description", c.Name)
				}
				if c.Priority != 0 && c.Priority != 1 {
					t.Errorf("column %q: priority %d", c.Name, c.Priority)
				}
			}
			wantName := 0
			if r.Kind == "Event" {
				wantName = len(p.Columns) - 1 // upstream prints events' names last, in -o wide only
			}
			if diff := cmp.Diff([]int{wantName}, names); diff != "" {
				t.Errorf("columns with format name (-want +got):\n%s", diff)
			}
			if p.Columns[wantName].Name != "Name" {
				t.Errorf("name column is %q", p.Columns[wantName].Name)
			}

			obj := newObject(t, s, r)
			cells := p.Row(obj)
			if len(cells) != len(p.Columns) {
				t.Fatalf("row of an empty %v has %d cells for %d columns", gk, len(cells), len(p.Columns))
			}
			checkCellTypes(t, cells)
			// Kinds upstream prints with its default converter read any
			// object's metadata; the others refuse another kind's object.
			if p.Columns[1].Name != "Created At" {
				if got := p.Row(&admissionregistrationv1.MutatingAdmissionPolicy{}); got != nil {
					t.Errorf("row of another kind's object = %v, want nil", got)
				}
			}
		})
	}
}

func checkCellTypes(t *testing.T, cells []any) {
	t.Helper()
	for i, c := range cells {
		switch c.(type) {
		case string, int64, bool:
		default:
			t.Errorf("cell %d is %T (%v), want string, int64 or bool", i, c, c)
		}
	}
}

func TestRowReadsClockAtEachCall(t *testing.T) {
	now := testNow
	printers := kindPrintersAt(func() time.Time { return now })
	ns := &corev1.Namespace{ObjectMeta: om("a", time.Minute)}
	row := printers[schema.GroupKind{Kind: "Namespace"}].Row
	first := row(ns)[2]
	now = now.Add(2 * time.Hour)
	second := row(ns)[2]
	if first != "60s" || second != "121m" {
		t.Errorf("AGE = %v then %v, want 60s then 121m", first, second)
	}
}

// renderTable renders a kind's column definitions and its rows for objs as
// kubectl get -o wide prints them.
func renderTable(t *testing.T, p Strategy, objs []runtime.Object) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# columns: name type [format] [wide]\n")
	for _, c := range p.Columns {
		line := []string{c.Name, c.Type}
		if c.Format != "" {
			line = append(line, c.Format)
		}
		if c.Priority > 0 {
			line = append(line, "wide")
		}
		b.WriteString(strings.Join(line, " ") + "\n")
	}
	b.WriteString("# kubectl get -o wide\n")
	var tbl strings.Builder
	w := tabwriter.NewWriter(&tbl, 10, 4, 3, ' ', 0)
	header := make([]string, len(p.Columns))
	for i, c := range p.Columns {
		header[i] = strings.ToUpper(c.Name)
	}
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, obj := range objs {
		cells := p.Row(obj)
		if len(cells) != len(p.Columns) {
			t.Fatalf("row of %T has %d cells for %d columns", obj, len(cells), len(p.Columns))
		}
		checkCellTypes(t, cells)
		out := make([]string, len(cells))
		for i, c := range cells {
			out[i] = fmt.Sprint(c)
		}
		fmt.Fprintln(w, strings.Join(out, "\t"))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// Padding before an empty last cell is invisible; drop it so that the
	// golden files have no trailing blanks.
	for _, line := range strings.Split(strings.TrimSuffix(tbl.String(), "\n"), "\n") {
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	return b.String()
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// goldenName is the golden file of a kind: pod.golden, event.events.k8s.io.golden.
func goldenName(gk schema.GroupKind) string {
	name := strings.ToLower(gk.Kind)
	if gk.Group != "" {
		name += "." + gk.Group
	}
	return name + ".golden"
}

func TestTablesGolden(t *testing.T) {
	printers := kindPrintersAt(fixedClock)
	for gk, objs := range goldenObjects() {
		t.Run(gk.String(), func(t *testing.T) {
			p, ok := printers[gk]
			if !ok {
				t.Fatalf("no printer for %v", gk)
			}
			checkGolden(t, goldenName(gk), renderTable(t, p, objs))
		})
	}
}

// goldenObjects are the objects each kind's golden table shows; the
// print_<area>_test.go files hold them.
func goldenObjects() map[schema.GroupKind][]runtime.Object {
	out := make(map[schema.GroupKind][]runtime.Object)
	for _, area := range []map[schema.GroupKind][]runtime.Object{
		podGolden(), appsGolden(), batchGolden(), networkGolden(), clusterGolden(),
		configGolden(), eventGolden(), storageGolden(), rbacGolden(), autoscalingGolden(),
	} {
		for gk, objs := range area {
			out[gk] = objs
		}
	}
	return out
}
