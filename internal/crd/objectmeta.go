package crd

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
)

// coerceMetadata rewrites obj["metadata"] as what a metav1.ObjectMeta
// decodes from it, as Go decoding does for built-in kinds: fields
// ObjectMeta does not have are dropped, and their paths (under
// parent.metadata) returned. Metadata that does not decode as ObjectMeta is
// an error. A zero creationTimestamp is left out.
func coerceMetadata(parent *field.Path, obj map[string]any) ([]string, *field.Error) {
	raw, ok := obj["metadata"]
	if !ok {
		return nil, nil
	}
	pth := parent.Child("metadata")
	b, err := utiljson.Marshal(raw)
	if err != nil {
		return nil, field.Invalid(pth, raw, err.Error())
	}
	meta := &metav1.ObjectMeta{}
	strict, err := kjson.UnmarshalStrict(b, meta)
	if err != nil {
		return nil, field.Invalid(pth, raw, err.Error())
	}
	var unknown []string
	for _, e := range strict {
		if fe, ok := e.(kjson.FieldError); ok {
			unknown = append(unknown, pth.String()+"."+fe.FieldPath())
		}
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(meta)
	if err != nil {
		return nil, field.Invalid(pth, raw, err.Error())
	}
	if meta.CreationTimestamp.IsZero() {
		delete(m, "creationTimestamp")
	}
	obj["metadata"] = m
	return unknown, nil
}

// coerceEmbedded checks the apiVersion and kind, and coerces the metadata,
// of every embedded resource in x (not of x itself), and returns the paths
// of the metadata fields it dropped.
func coerceEmbedded(pth *field.Path, x any, s *node, unknown *[]string) *field.Error {
	if s == nil {
		return nil
	}
	switch x := x.(type) {
	case map[string]any:
		if s.Embedded {
			for _, k := range []string{"apiVersion", "kind"} {
				if v, ok := x[k]; ok {
					if _, ok := v.(string); !ok {
						return field.Invalid(pth.Child(k), v, "must be a string")
					}
				}
			}
			u, err := coerceMetadata(pth, x)
			if err != nil {
				return err
			}
			*unknown = append(*unknown, u...)
		}
		for _, k := range sortedKeys(x) {
			if prop, ok := s.Properties[k]; ok {
				if err := coerceEmbedded(pth.Child(k), x[k], prop, unknown); err != nil {
					return err
				}
			} else if s.HasAdditional {
				if err := coerceEmbedded(pth.Key(k), x[k], s.Additional, unknown); err != nil {
					return err
				}
			}
		}
	case []any:
		for i, v := range x {
			if err := coerceEmbedded(pth.Index(i), v, s.Items, unknown); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateEmbedded checks the embedded resources in x (not x itself):
// apiVersion and kind are required and well formed, and metadata is valid
// ObjectMeta, as upstream checks them.
func validateEmbedded(pth *field.Path, x any, s *node) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	switch x := x.(type) {
	case map[string]any:
		if s.Embedded {
			errs = append(errs, validateEmbeddedResource(pth, x)...)
		}
		for _, k := range sortedKeys(x) {
			if prop, ok := s.Properties[k]; ok {
				errs = append(errs, validateEmbedded(pth.Child(k), x[k], prop)...)
			} else if s.HasAdditional {
				errs = append(errs, validateEmbedded(pth.Key(k), x[k], s.Additional)...)
			}
		}
	case []any:
		for i, v := range x {
			errs = append(errs, validateEmbedded(pth.Index(i), v, s.Items)...)
		}
	}
	return errs
}

func validateEmbeddedResource(pth *field.Path, x map[string]any) field.ErrorList {
	var errs field.ErrorList
	if _, ok := x["apiVersion"]; !ok {
		errs = append(errs, field.Required(pth.Child("apiVersion"), ""))
	}
	if _, ok := x["kind"]; !ok {
		errs = append(errs, field.Required(pth.Child("kind"), ""))
	}
	for _, k := range sortedKeys(x) {
		v := x[k]
		switch k {
		case "apiVersion":
			apiVersion, ok := v.(string)
			switch {
			case !ok:
				errs = append(errs, field.Invalid(pth.Child(k), v, "must be a string"))
			case apiVersion == "":
				errs = append(errs, field.Invalid(pth.Child(k), apiVersion, "must not be empty"))
			default:
				if _, err := schema.ParseGroupVersion(apiVersion); err != nil {
					errs = append(errs, field.Invalid(pth.Child(k), apiVersion, err.Error()))
				}
			}
		case "kind":
			kind, ok := v.(string)
			switch {
			case !ok:
				errs = append(errs, field.Invalid(pth.Child(k), v, "must be a string"))
			case kind == "":
				errs = append(errs, field.Invalid(pth.Child(k), kind, "must not be empty"))
			default:
				if msgs := utilvalidation.IsDNS1035Label(strings.ToLower(kind)); len(msgs) > 0 {
					errs = append(errs, field.Invalid(pth.Child(k), kind, "may have mixed case, but should otherwise match: "+strings.Join(msgs, ",")))
				}
			}
		case "metadata":
			b, err := utiljson.Marshal(v)
			meta := &metav1.ObjectMeta{}
			if err == nil {
				err = utiljson.Unmarshal(b, meta)
			}
			if err != nil {
				errs = append(errs, field.Invalid(pth.Child(k), v, err.Error()))
				continue
			}
			if meta.Name == "" {
				meta.Name = "fakename" // a name is not required here
			}
			errs = append(errs, metavalidation.ValidateObjectMeta(meta, meta.Namespace != "", pathSegmentName, pth.Child(k))...)
		}
	}
	return errs
}

func pathSegmentName(name string, prefix bool) []string {
	if prefix {
		return content.IsPathSegmentPrefix(name)
	}
	return content.IsPathSegmentName(name)
}
