package apiserver

import (
	"bytes"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"berth.dev/berth/internal/registry"
)

// defaultColumns are used for kinds without printer columns, as upstream's
// default table convertor.
var defaultColumns = []registry.TableColumn{
	{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."},
	{Name: "Created At", Type: "date", Description: "CreationTimestamp is a timestamp representing the server time when this object was created."},
}

// table renders objs as a metav1.Table with the resource's columns and the
// includeObject mode asked for (None, Metadata (default) or Object).
func (s *Server) table(req *request, objs []runtime.Object, rv, cont string) (*metav1.Table, error) {
	res := req.res
	include := metav1.IncludeMetadata
	switch v := req.query.Get("includeObject"); v {
	case "":
	case string(metav1.IncludeNone), string(metav1.IncludeMetadata), string(metav1.IncludeObject):
		include = metav1.IncludeObjectPolicy(v)
	default:
		return nil, badRequest("includeObject: unsupported value %q", v)
	}
	cols, row := res.Strategy.Columns, res.Strategy.Row
	if row == nil {
		cols, row = defaultColumns, defaultRow
	}
	t := &metav1.Table{
		TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/" + req.out.asVersion, Kind: "Table"},
		ListMeta: metav1.ListMeta{ResourceVersion: rv, Continue: cont},
	}
	if req.query.Get("noHeaders") != "true" {
		for _, c := range cols {
			t.ColumnDefinitions = append(t.ColumnDefinitions, metav1.TableColumnDefinition{
				Name: c.Name, Type: c.Type, Format: c.Format, Description: c.Description, Priority: c.Priority,
			})
		}
	}
	t.Rows = make([]metav1.TableRow, 0, len(objs))
	for _, obj := range objs {
		tr := metav1.TableRow{Cells: row(obj)}
		var embed runtime.Object
		switch include {
		case metav1.IncludeMetadata:
			embed = partialMetadata(obj, "v1")
		case metav1.IncludeObject:
			embed = obj
		}
		if embed != nil {
			var buf bytes.Buffer
			if err := s.jsonSerializer.Encode(embed, &buf); err != nil {
				return nil, err
			}
			tr.Object.Raw = bytes.TrimRight(buf.Bytes(), "\n")
		}
		t.Rows = append(t.Rows, tr)
	}
	return t, nil
}

func defaultRow(obj runtime.Object) []any {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return []any{"", ""}
	}
	ts := acc.GetCreationTimestamp()
	created, _ := ts.MarshalQueryParameter()
	return []any{acc.GetName(), created}
}
