package crd

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"berth.dev/berth/internal/registry"
)

func TestTable(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	meta := metav1.ObjectMeta{}.SwaggerDoc()
	nameCol := registry.TableColumn{Name: "Name", Type: "string", Format: "name", Description: meta["name"]}
	obj := objectOf(t, `
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: a, creationTimestamp: '2026-03-01T11:55:00Z'}
spec: {cronSpec: '* * * * *', image: nginx, replicas: 3, selector: 'app=a', color: red}
status: {replicas: 2, conditions: [{type: Ready, status: 'True'}], ratio: 1.5, ready: true, since: 'not a time'}
`)
	t.Run("default Age column", func(t *testing.T) {
		v := versionOf(t, cronTabSchema)
		wantCols := []registry.TableColumn{nameCol, {Name: "Age", Type: "date", Description: meta["creationTimestamp"]}}
		if diff := cmp.Diff(wantCols, v.Columns()); diff != "" {
			t.Errorf("columns (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]any{"a", "5m"}, v.Row(obj, now)); diff != "" {
			t.Errorf("row (-want +got):\n%s", diff)
		}
	})
	t.Run("printer columns", func(t *testing.T) {
		v := versionOf(t, cronTabSchema+"      ratio: {type: number}\n      ready: {type: boolean}\n      since: {type: string}\n      conditions: {type: array, items: {type: object, properties: {type: {type: string}, status: {type: string}}}}\n", func(c *crd) {
			c.Spec.Versions[0].AdditionalPrinterColumns = []apiextensionsv1.CustomResourceColumnDefinition{
				{Name: "Spec", Type: "string", JSONPath: ".spec.cronSpec", Description: "The cron spec."},
				{Name: "Replicas", Type: "integer", JSONPath: ".spec.replicas"},
				{Name: "Ready", Type: "boolean", JSONPath: ".status.ready", Priority: 1},
				{Name: "Ratio", Type: "number", JSONPath: ".status.ratio"},
				{Name: "Conditions", Type: "string", JSONPath: ".status.conditions"},
				{Name: "ReadyCondition", Type: "string", JSONPath: `.status.conditions[?(@.type=="Ready")].status`},
				{Name: "Since", Type: "date", JSONPath: ".status.since"},
				{Name: "Missing", Type: "string", JSONPath: ".status.nothing"},
				{Name: "Mistyped", Type: "integer", JSONPath: ".spec.image"},
			}
		})
		wantCols := []registry.TableColumn{
			nameCol,
			{Name: "Spec", Type: "string", Description: "The cron spec."},
			{Name: "Replicas", Type: "integer", Description: "Custom resource definition column (in JSONPath format): .spec.replicas"},
			{Name: "Ready", Type: "boolean", Priority: 1, Description: "Custom resource definition column (in JSONPath format): .status.ready"},
			{Name: "Ratio", Type: "number", Description: "Custom resource definition column (in JSONPath format): .status.ratio"},
			{Name: "Conditions", Type: "string", Description: "Custom resource definition column (in JSONPath format): .status.conditions"},
			{Name: "ReadyCondition", Type: "string", Description: `Custom resource definition column (in JSONPath format): .status.conditions[?(@.type=="Ready")].status`},
			{Name: "Since", Type: "date", Description: "Custom resource definition column (in JSONPath format): .status.since"},
			{Name: "Missing", Type: "string", Description: "Custom resource definition column (in JSONPath format): .status.nothing"},
			{Name: "Mistyped", Type: "integer", Description: "Custom resource definition column (in JSONPath format): .spec.image"},
		}
		if diff := cmp.Diff(wantCols, v.Columns()); diff != "" {
			t.Errorf("columns (-want +got):\n%s", diff)
		}
		want := []any{"a", "* * * * *", int64(3), true, 1.5, `[{"status":"True","type":"Ready"}]`, "True", "<invalid>", nil, nil}
		if diff := cmp.Diff(want, v.Row(obj, now)); diff != "" {
			t.Errorf("row (-want +got):\n%s", diff)
		}
	})
	t.Run("a column that does not parse ends the columns", func(t *testing.T) {
		v := versionOf(t, cronTabSchema, func(c *crd) {
			c.Spec.Versions[0].AdditionalPrinterColumns = []apiextensionsv1.CustomResourceColumnDefinition{
				{Name: "Image", Type: "string", JSONPath: ".spec.image"},
				{Name: "Bad", Type: "string", JSONPath: ".spec[image"},
				{Name: "Replicas", Type: "integer", JSONPath: ".spec.replicas"},
			}
		})
		if got := len(v.Columns()); got != 2 {
			t.Errorf("%d columns, want 2 (Name, Image)", got)
		}
		if diff := cmp.Diff([]any{"a", "nginx"}, v.Row(obj, now)); diff != "" {
			t.Errorf("row (-want +got):\n%s", diff)
		}
	})
}

func TestFields(t *testing.T) {
	v := versionOf(t, cronTabSchema+"      ready: {type: boolean}\n", func(c *crd) {
		c.Spec.Versions[0].SelectableFields = []apiextensionsv1.SelectableField{
			{JSONPath: ".spec.color"}, {JSONPath: ".spec.replicas"}, {JSONPath: ".status.ready"}, {JSONPath: ".spec.image"},
		}
	})
	obj := objectOf(t, `{spec: {color: red, replicas: 3}, status: {ready: false}}`)
	want := fields.Set{"spec.color": "red", "spec.replicas": "3", "status.ready": "false", "spec.image": ""}
	if diff := cmp.Diff(want, v.Fields(obj)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := versionOf(t, cronTabSchema).Fields(obj); got != nil {
		t.Errorf("fields without selectable fields = %v, want nil", got)
	}
}

func TestScale(t *testing.T) {
	v := versionOf(t, cronTabSchema, func(c *crd) {
		c.Spec.Versions[0].Subresources = &apiextensionsv1.CustomResourceSubresources{Scale: &apiextensionsv1.CustomResourceSubresourceScale{
			SpecReplicasPath: ".spec.replicas", StatusReplicasPath: ".status.replicas", LabelSelectorPath: new(".status.selector"),
		}}
	})
	type scale struct {
		Spec, Status int32
		Selector     string
		Set          bool
		Err          bool
	}
	read := func(obj map[string]any) scale {
		spec, status, sel, err := v.ScaleFrom(obj)
		return scale{spec, status, sel, v.SpecReplicasSet(obj), err != nil}
	}
	tests := []struct {
		name string
		obj  string
		want scale
	}{
		{name: "all set", obj: `{spec: {replicas: 3}, status: {replicas: 2, selector: 'app=a'}}`, want: scale{3, 2, "app=a", true, false}},
		{name: "missing is zero", obj: `{spec: {}}`, want: scale{}},
		{name: "wrong type", obj: `{spec: {replicas: three}}`, want: scale{Set: true, Err: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, read(objectOf(t, tt.obj))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("set replicas", func(t *testing.T) {
		obj := objectOf(t, `{metadata: {name: a}}`)
		if err := v.SetReplicas(obj, 5); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(objectOf(t, `{metadata: {name: a}, spec: {replicas: 5}}`), obj); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("no scale subresource", func(t *testing.T) {
		w := versionOf(t, cronTabSchema)
		if _, _, _, err := w.ScaleFrom(map[string]any{}); err == nil {
			t.Error("ScaleFrom succeeded")
		}
		if err := w.SetReplicas(map[string]any{}, 1); err == nil {
			t.Error("SetReplicas succeeded")
		}
	})
}
