package infra

// Reading template.yaml as plain data: CloudFormation's short-form
// intrinsics (!Ref, !Sub, !GetAtt, ...) become their long forms, so the
// checks below see what CloudFormation sees.

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// template is a decoded CloudFormation template.
type template map[string]any

func loadTemplate(path string) (template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseTemplate(b)
}

func parseTemplate(b []byte) (template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("infra: parse template: %w", err)
	}
	v, err := decodeNode(&doc)
	if err != nil {
		return nil, fmt.Errorf("infra: parse template: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("infra: parse template: not a mapping")
	}
	return m, nil
}

// decodeNode turns a YAML node into maps, slices and scalars, refusing
// duplicate keys (CloudFormation does too) and expanding short-form tags.
func decodeNode(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, errors.New("empty document")
		}
		return decodeNode(n.Content[0])
	case yaml.AliasNode:
		return decodeNode(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", n.Content[i].Line, k)
			}
			e, err := decodeNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k] = e
		}
		v = m
	case yaml.SequenceNode:
		s := []any{}
		for _, c := range n.Content {
			e, err := decodeNode(c)
			if err != nil {
				return nil, err
			}
			s = append(s, e)
		}
		v = s
	case yaml.ScalarNode:
		if isIntrinsicTag(n.Tag) {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
	}
	if !isIntrinsicTag(n.Tag) {
		return v, nil
	}
	switch name := n.Tag[1:]; name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			v = []any{res, attr}
		}
		return map[string]any{"Fn::GetAtt": v}, nil
	default:
		return map[string]any{"Fn::" + name: v}, nil
	}
}

// isIntrinsicTag reports a local tag such as !Sub (YAML's own are !!str, ...).
func isIntrinsicTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

func (t template) resources() map[string]map[string]any {
	out := map[string]map[string]any{}
	rs, _ := t["Resources"].(map[string]any)
	for id, r := range rs {
		if m, ok := r.(map[string]any); ok {
			out[id] = m
		}
	}
	return out
}

func (t template) resource(id string) map[string]any { return t.resources()[id] }

func properties(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

func resourceType(r map[string]any) string { s, _ := r["Type"].(string); return s }

func (t template) outputNames() []string {
	var names []string
	outs, _ := t["Outputs"].(map[string]any)
	for k := range outs {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// statement is one IAM policy statement, with where it came from.
type statement struct {
	where string // "S3Role policy s3-own-prefix" or "S3Role trust policy"
	m     map[string]any
}

func (s statement) effect() string { e, _ := s.m["Effect"].(string); return e }

func (s statement) actions() []string { return strs(s.m["Action"]) }

func (s statement) resources() []string { return strs(s.m["Resource"]) }

// condition returns Condition[op][key] as strings, or nil.
func (s statement) condition(op, key string) []string {
	c, _ := s.m["Condition"].(map[string]any)
	o, _ := c[op].(map[string]any)
	if o == nil {
		return nil
	}
	v, ok := o[key]
	if !ok {
		return nil
	}
	return strs(v)
}

// roleStatements returns the statements of an IAM role's trust policy and
// inline policies.
func roleStatements(id string, r map[string]any) (trust, perms []statement) {
	p := properties(r)
	for _, s := range docStatements(p["AssumeRolePolicyDocument"]) {
		trust = append(trust, statement{where: id + " trust policy", m: s})
	}
	pols, _ := p["Policies"].([]any)
	for _, pol := range pols {
		pm, _ := pol.(map[string]any)
		name, _ := pm["PolicyName"].(string)
		for _, s := range docStatements(pm["PolicyDocument"]) {
			perms = append(perms, statement{where: id + " policy " + name, m: s})
		}
	}
	return trust, perms
}

func docStatements(doc any) []map[string]any {
	d, _ := doc.(map[string]any)
	switch s := d["Statement"].(type) {
	case map[string]any:
		return []map[string]any{s}
	case []any:
		var out []map[string]any
		for _, e := range s {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// strs flattens a value into strings the way the checks need them: a
// string or list as is; !Sub's text with CloudFormation's "${!" escape
// undone, so that "${!aws:x}" reads as the IAM variable "${aws:x}"; !Ref X
// as "Ref:X"; !GetAtt X.Y as "GetAtt:X.Y"; both branches of an !If.
func strs(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, strs(e)...)
		}
		return out
	case map[string]any:
		if s, ok := x["Fn::Sub"]; ok {
			if l, ok := s.([]any); ok && len(l) > 0 {
				s = l[0]
			}
			str, _ := s.(string)
			return []string{strings.ReplaceAll(str, "${!", "${")}
		}
		if r, ok := x["Ref"].(string); ok {
			return []string{"Ref:" + r}
		}
		if g, ok := x["Fn::GetAtt"].([]any); ok {
			return []string{"GetAtt:" + strings.Join(strs(g), ".")}
		}
		if f, ok := x["Fn::If"].([]any); ok && len(f) == 3 {
			return append(strs(f[1]), strs(f[2])...)
		}
	}
	return []string{fmt.Sprint(v)}
}
