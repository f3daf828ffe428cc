package apiserver

import (
	"bytes"
	"fmt"
	"mime"
	"strings"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const (
	mediaJSON     = "application/json"
	mediaYAML     = "application/yaml"
	mediaProtobuf = "application/vnd.kubernetes.protobuf"
)

// protoMagic starts every Kubernetes protobuf envelope.
var protoMagic = []byte{0x6b, 0x38, 0x73, 0x00}

// encodings caches an object's wire forms. Each is computed at most a few
// times (concurrent first users may race benignly) and then shared.
type encodings struct {
	json  atomic.Pointer[[]byte] // JSON with apiVersion and kind
	proto atomic.Pointer[[]byte] // the bare protobuf message, no envelope
}

// objectJSON returns o's JSON encoding, computing it on first use.
func (s *Server) objectJSON(o *cachedObject) ([]byte, error) {
	if b := o.enc.json.Load(); b != nil {
		return *b, nil
	}
	var buf bytes.Buffer
	if err := s.jsonSerializer.Encode(o.obj, &buf); err != nil {
		return nil, err
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	o.enc.json.Store(&b)
	return b, nil
}

// protoMarshaler is what the generated k8s.io/api types implement.
type protoMarshaler interface{ Marshal() ([]byte, error) }

// objectProto returns o's bare protobuf message, computing it on first use.
func objectProto(o *cachedObject) ([]byte, error) {
	if b := o.enc.proto.Load(); b != nil {
		return *b, nil
	}
	m, ok := o.obj.(protoMarshaler)
	if !ok {
		return nil, errNotProtobuf
	}
	b, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	o.enc.proto.Store(&b)
	return b, nil
}

var errNotProtobuf = fmt.Errorf("object cannot be encoded as protobuf")

// protoEnvelope wraps a bare message in the runtime.Unknown envelope with
// the magic prefix, as the protobuf serializer writes it.
func protoEnvelope(gvk schema.GroupVersionKind, msg []byte) ([]byte, error) {
	apiVersion, kind := gvk.ToAPIVersionAndKind()
	u := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: apiVersion, Kind: kind}, Raw: msg}
	b, err := u.Marshal()
	if err != nil {
		return nil, err
	}
	return append(append(make([]byte, 0, len(protoMagic)+len(b)), protoMagic...), b...), nil
}

// protoList builds the bare message of a typed list (metadata is field 1,
// items field 2 in every k8s.io/api list) from its encoded parts.
func protoList(listMeta []byte, items [][]byte) []byte {
	n := protowire.SizeTag(1) + protowire.SizeBytes(len(listMeta))
	for _, it := range items {
		n += protowire.SizeTag(2) + protowire.SizeBytes(len(it))
	}
	b := make([]byte, 0, n)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, listMeta)
	for _, it := range items {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, it)
	}
	return b
}

// outputFormat is a negotiated response format.
type outputFormat struct {
	mediaType string // mediaJSON, mediaYAML or mediaProtobuf
	// as is "", "Table", "PartialObjectMetadata" or "PartialObjectMetadataList".
	as string
	// asVersion is the meta.k8s.io version asked for with as.
	asVersion string
	pretty    bool
}

// negotiateOutput picks the first supported entry of an Accept header.
// ok is false when none is supported (406).
func negotiateOutput(accept string) (outputFormat, bool) {
	if strings.TrimSpace(accept) == "" {
		return outputFormat{mediaType: mediaJSON}, true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		var f outputFormat
		switch mt {
		case mediaJSON, "application/*", "*/*":
			f.mediaType = mediaJSON
		case mediaYAML:
			f.mediaType = mediaYAML
		case mediaProtobuf:
			f.mediaType = mediaProtobuf
		default:
			continue
		}
		if as := params["as"]; as != "" {
			if params["g"] != "meta.k8s.io" || (params["v"] != "v1" && params["v"] != "v1beta1") {
				continue
			}
			switch as {
			case "Table", "PartialObjectMetadata", "PartialObjectMetadataList":
			default:
				continue
			}
			if as == "Table" && f.mediaType == mediaProtobuf {
				continue // Table cells are not protobuf-encodable, as upstream
			}
			f.as, f.asVersion = as, params["v"]
		}
		f.pretty = params["pretty"] == "1"
		return f, true
	}
	return outputFormat{}, false
}

// withoutProtobuf drops the protobuf entries of an Accept header.
func withoutProtobuf(accept string) string {
	var keep []string
	for _, part := range strings.Split(accept, ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == mediaProtobuf {
			continue
		}
		keep = append(keep, part)
	}
	if len(keep) == 0 {
		return "-"
	}
	return strings.Join(keep, ",")
}
