package crd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/util/jsonpath"

	"berth.dev/berth/internal/registry"
)

// cellPath evaluates one printer column's JSONPath. A parsed
// jsonpath.JSONPath keeps state while it runs, so each evaluation takes
// its own from the pool.
type cellPath struct {
	pool sync.Pool // of *jsonpath.JSONPath
}

func newCellPath(name, jsonPath string) (*cellPath, error) {
	parse := func() (*jsonpath.JSONPath, error) {
		p := jsonpath.New(name).AllowMissingKeys(true)
		if err := p.Parse(fmt.Sprintf("{%s}", jsonPath)); err != nil {
			return nil, err
		}
		return p, nil
	}
	first, err := parse()
	if err != nil {
		return nil, err
	}
	c := &cellPath{}
	c.pool.New = func() any {
		p, _ := parse() // parsed once already, so it parses again
		return p
	}
	c.pool.Put(first)
	return c, nil
}

// value returns the first value the path finds in obj, and whether there
// is one.
func (c *cellPath) value(obj map[string]any) (reflect.Value, *jsonpath.JSONPath, bool) {
	p := c.pool.Get().(*jsonpath.JSONPath)
	results, err := p.FindResults(obj)
	if err != nil || len(results) == 0 || len(results[0]) == 0 {
		c.pool.Put(p)
		return reflect.Value{}, nil, false
	}
	return results[0][0], p, true
}

// tableColumns returns the Table columns of a version with the given
// printer columns and a path per printer column. Without printer columns
// the version has an Age column, as upstream serves. Like upstream, a
// column whose JSONPath does not parse ends the list of columns.
func tableColumns(cols []apiextensionsv1.CustomResourceColumnDefinition) ([]registry.TableColumn, []*cellPath) {
	meta := metav1.ObjectMeta{}.SwaggerDoc()
	if len(cols) == 0 {
		cols = []apiextensionsv1.CustomResourceColumnDefinition{
			{Name: "Age", Type: "date", Description: meta["creationTimestamp"], JSONPath: ".metadata.creationTimestamp"},
		}
	}
	columns := []registry.TableColumn{{Name: "Name", Type: "string", Format: "name", Description: meta["name"]}}
	var paths []*cellPath
	for _, col := range cols {
		p, err := newCellPath(col.Name, col.JSONPath)
		if err != nil {
			break
		}
		desc := col.Description
		if desc == "" {
			desc = "Custom resource definition column (in JSONPath format): " + col.JSONPath
		}
		columns = append(columns, registry.TableColumn{
			Name: col.Name, Type: col.Type, Format: col.Format, Description: desc, Priority: col.Priority,
		})
		paths = append(paths, p)
	}
	return columns, paths
}

// Columns returns the version's Table columns: Name first, then the
// printer columns (or Age when the version has none). The caller must not
// modify the slice.
func (v *Version) Columns() []registry.TableColumn {
	return v.columns
}

// Row returns the Table cells of obj, one per column of Columns, as
// upstream fills them: the name; for a string column the value as
// JSONPath prints it; for integer, number and boolean columns an int64,
// float64 or bool; for a date column the age at now ("5m", "<invalid>"
// when it does not parse as a timestamp, "<unknown>" when zero); nil where
// the path finds nothing or a value of another type.
func (v *Version) Row(obj map[string]any, now time.Time) []any {
	cells := make([]any, 1, len(v.columns))
	name := ""
	if m, ok := obj["metadata"].(map[string]any); ok {
		name, _ = m["name"].(string)
	}
	cells[0] = name
	var buf bytes.Buffer
	for i, c := range v.cells {
		val, p, ok := c.value(obj)
		if !ok {
			cells = append(cells, nil)
			continue
		}
		typ := v.columns[i+1].Type
		if typ == "string" {
			buf.Reset()
			if err := p.PrintResults(&buf, []reflect.Value{reflect.ValueOf(val.Interface())}); err == nil {
				cells = append(cells, buf.String())
			} else {
				cells = append(cells, nil)
			}
		} else {
			cells = append(cells, cell(typ, val.Interface(), now))
		}
		c.pool.Put(p)
	}
	return cells
}

// cell converts a value found for a column of type typ.
func cell(typ string, value any, now time.Time) any {
	switch typ {
	case "integer":
		switch t := value.(type) {
		case int64:
			return t
		case float64:
			return int64(t)
		case json.Number:
			if i, err := t.Int64(); err == nil {
				return i
			}
		}
	case "number":
		switch t := value.(type) {
		case int64:
			return float64(t)
		case float64:
			return t
		case json.Number:
			if f, err := t.Float64(); err == nil {
				return f
			}
		}
	case "boolean":
		if b, ok := value.(bool); ok {
			return b
		}
	case "date":
		if s, ok := value.(string); ok {
			var ts metav1.Time
			if err := ts.UnmarshalQueryParameter(s); err != nil {
				return "<invalid>"
			}
			if ts.IsZero() {
				return "<unknown>"
			}
			return duration.HumanDuration(now.Sub(ts.Time))
		}
	}
	return nil
}
