package apiserver

import (
	"bytes"
	"encoding/json"
	"mime"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// auditObject completes the audit record's object reference from a
// decoded request body (the name of a created object), as upstream does.
func (req *request) auditObject(obj runtime.Object) {
	if req.audit == nil {
		return
	}
	if m, err := meta.Accessor(obj); err == nil {
		req.audit.SetObjectMeta(m.GetNamespace(), m.GetName(), string(m.GetUID()))
	}
}

// auditJSON converts a request or response body to JSON for the audit
// record: JSON as it is, YAML converted, protobuf decoded and encoded
// again. Other media types are left out.
func (s *Server) auditJSON(contentType string, body []byte) (json.RawMessage, bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, false
	}
	switch {
	case mt == mediaProtobuf:
		obj, _, err := s.protoSerializer.Decode(body, nil, nil)
		if err != nil {
			return nil, false
		}
		var buf bytes.Buffer
		if err := s.jsonSerializer.Encode(obj, &buf); err != nil {
			return nil, false
		}
		return buf.Bytes(), true
	case strings.HasSuffix(mt, "json"):
		return body, json.Valid(body)
	case strings.HasSuffix(mt, "yaml"):
		b, err := yaml.YAMLToJSON(body)
		return b, err == nil
	}
	return nil, false
}
