package openapi

import (
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

const (
	title          = "Kubernetes"
	securityBearer = "BearerToken"
)

// v3Document returns the OpenAPI v3 document of the given routes, holding
// the named definitions. The document shares the schemas; it must not be
// modified.
func v3Document(version string, rs []route, defs map[string]*spec.Schema, names []string) *spec3.OpenAPI {
	paths := make(map[string]*spec3.Path, len(rs))
	for _, rt := range rs {
		p := &spec3.Path{}
		for _, prm := range rt.params {
			p.Parameters = append(p.Parameters, v3Param(prm))
		}
		for _, o := range rt.ops {
			op := v3Operation(o)
			switch o.method {
			case "get":
				p.Get = op
			case "put":
				p.Put = op
			case "post":
				p.Post = op
			case "delete":
				p.Delete = op
			case "patch":
				p.Patch = op
			}
		}
		paths[rt.path] = p
	}
	schemas := make(map[string]*spec.Schema, len(names))
	for _, n := range names {
		schemas[common.EscapeJsonPointer(n)] = defs[n]
	}
	return &spec3.OpenAPI{
		Version: "3.0.0",
		Info:    &spec.Info{InfoProps: spec.InfoProps{Title: title, Version: version}},
		Paths:   &spec3.Paths{Paths: paths},
		Components: &spec3.Components{
			Schemas: schemas,
			SecuritySchemes: spec3.SecuritySchemes{securityBearer: &spec3.SecurityScheme{
				SecuritySchemeProps: spec3.SecuritySchemeProps{
					Type: "apiKey", Name: "authorization", In: "header",
					Description: "Bearer token authentication",
				},
			}},
		},
		SecurityRequirement: []map[string][]string{{securityBearer: {}}},
	}
}

func v3Param(p param) *spec3.Parameter {
	return &spec3.Parameter{ParameterProps: spec3.ParameterProps{
		Name:        p.name,
		In:          p.in,
		Description: p.description,
		Required:    p.required,
		Schema:      &spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{p.typ}, UniqueItems: true}},
	}}
}

func v3Operation(o operation) *spec3.Operation {
	op := &spec3.Operation{OperationProps: spec3.OperationProps{
		Description: o.description,
		OperationId: o.id,
		Tags:        []string{o.tag},
		Responses:   &spec3.Responses{ResponsesProps: spec3.ResponsesProps{StatusCodeResponses: map[int]*spec3.Response{}}},
	}}
	for _, p := range o.params {
		op.Parameters = append(op.Parameters, v3Param(p))
	}
	if o.body != "" {
		content := map[string]*spec3.MediaType{}
		for _, m := range o.consumes {
			content[m] = &spec3.MediaType{MediaTypeProps: spec3.MediaTypeProps{Schema: v3Ref(o.body)}}
		}
		op.RequestBody = &spec3.RequestBody{RequestBodyProps: spec3.RequestBodyProps{Content: content, Required: true}}
	}
	for _, r := range o.responses {
		resp := &spec3.Response{ResponseProps: spec3.ResponseProps{Description: r.description}}
		if r.def != "" {
			resp.Content = map[string]*spec3.MediaType{}
			for _, m := range o.produces {
				resp.Content[m] = &spec3.MediaType{MediaTypeProps: spec3.MediaTypeProps{Schema: v3Ref(r.def)}}
			}
		}
		op.Responses.StatusCodeResponses[r.code] = resp
	}
	op.AddExtension(extAction, o.action)
	op.AddExtension(extGVK, gvkObject(o.gvk))
	return op
}

func v3Ref(def string) *spec.Schema {
	return &spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(refPrefixV3 + common.EscapeJsonPointer(def))}}
}

// v2Document returns the OpenAPI v2 document of the given routes, holding
// the named definitions.
func v2Document(version string, rs []route, defs map[string]*spec.Schema, names []string) *spec.Swagger {
	paths := make(map[string]spec.PathItem, len(rs))
	for _, rt := range rs {
		var p spec.PathItem
		for _, prm := range rt.params {
			p.Parameters = append(p.Parameters, v2Param(prm))
		}
		for _, o := range rt.ops {
			op := v2Operation(o)
			switch o.method {
			case "get":
				p.Get = op
			case "put":
				p.Put = op
			case "post":
				p.Post = op
			case "delete":
				p.Delete = op
			case "patch":
				p.Patch = op
			}
		}
		paths[rt.path] = p
	}
	definitions := make(spec.Definitions, len(names))
	for _, n := range names {
		definitions[common.EscapeJsonPointer(n)] = *defs[n]
	}
	return &spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger:     "2.0",
		Info:        &spec.Info{InfoProps: spec.InfoProps{Title: title, Version: version}},
		Paths:       &spec.Paths{Paths: paths},
		Definitions: definitions,
		SecurityDefinitions: spec.SecurityDefinitions{securityBearer: &spec.SecurityScheme{
			SecuritySchemeProps: spec.SecuritySchemeProps{
				Type: "apiKey", Name: "authorization", In: "header",
				Description: "Bearer token authentication",
			},
		}},
		Security: []map[string][]string{{securityBearer: {}}},
	}}
}

func v2Param(p param) spec.Parameter {
	return spec.Parameter{
		ParamProps:        spec.ParamProps{Name: p.name, In: p.in, Description: p.description, Required: p.required},
		SimpleSchema:      spec.SimpleSchema{Type: p.typ},
		CommonValidations: spec.CommonValidations{UniqueItems: true},
	}
}

func v2Operation(o operation) *spec.Operation {
	op := &spec.Operation{OperationProps: spec.OperationProps{
		Description: o.description,
		Consumes:    o.consumes,
		Produces:    o.produces,
		Schemes:     []string{"https"},
		Tags:        []string{o.tag},
		ID:          o.id,
		Responses:   &spec.Responses{ResponsesProps: spec.ResponsesProps{StatusCodeResponses: map[int]spec.Response{}}},
	}}
	if o.body != "" {
		op.Parameters = append(op.Parameters, spec.Parameter{ParamProps: spec.ParamProps{
			Name: "body", In: "body", Required: true, Schema: v2Ref(o.body),
		}})
	}
	for _, p := range o.params {
		op.Parameters = append(op.Parameters, v2Param(p))
	}
	for _, r := range o.responses {
		resp := spec.Response{ResponseProps: spec.ResponseProps{Description: r.description}}
		if r.def != "" {
			resp.Schema = v2Ref(r.def)
		}
		op.Responses.StatusCodeResponses[r.code] = resp
	}
	op.AddExtension(extAction, o.action)
	op.AddExtension(extGVK, gvkObject(o.gvk))
	return op
}

func v2Ref(def string) *spec.Schema {
	return &spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(refPrefixV2 + common.EscapeJsonPointer(def))}}
}
