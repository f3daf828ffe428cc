package framework

import "strings"

// Code is the outcome of a plugin call.
type Code int

const (
	// Success means the plugin accepts the pod; a nil *Status is Success.
	Success Code = iota
	// Error is an internal failure, not a property of the node.
	Error
	// Unschedulable means the node does not fit now, but might after
	// preemption removes pods from it.
	Unschedulable
	// UnschedulableAndUnresolvable means the node does not fit and
	// removing pods from it would not change that.
	UnschedulableAndUnresolvable
)

var codeNames = [...]string{"Success", "Error", "Unschedulable", "UnschedulableAndUnresolvable"}

// String returns the code's name.
func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "Unknown"
}

// Status is a plugin's answer: a code and the human-readable reasons shown
// to users (they are counted across nodes in FitError). A nil *Status means
// Success.
type Status struct {
	code    Code
	reasons []string
	plugin  string
}

// NewStatus returns a status with the given code and reasons.
func NewStatus(code Code, reasons ...string) *Status {
	return &Status{code: code, reasons: reasons}
}

// Code returns the status code; Success for nil.
func (s *Status) Code() Code {
	if s == nil {
		return Success
	}
	return s.code
}

// IsSuccess reports whether s is nil or has code Success.
func (s *Status) IsSuccess() bool { return s.Code() == Success }

// IsRejected reports whether the node was rejected (either unschedulable code).
func (s *Status) IsRejected() bool {
	c := s.Code()
	return c == Unschedulable || c == UnschedulableAndUnresolvable
}

// Reasons returns the reasons; nil for nil.
func (s *Status) Reasons() []string {
	if s == nil {
		return nil
	}
	return s.reasons
}

// Message joins the reasons with ", ".
func (s *Status) Message() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.reasons, ", ")
}

// Plugin returns the name of the plugin that produced the status, set by
// the Framework.
func (s *Status) Plugin() string {
	if s == nil {
		return ""
	}
	return s.plugin
}

// WithPlugin sets the plugin name and returns s.
func (s *Status) WithPlugin(name string) *Status {
	if s != nil {
		s.plugin = name
	}
	return s
}
