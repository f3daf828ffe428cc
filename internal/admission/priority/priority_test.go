package priority

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/admission/admissiontest"
)

func class(name string, value int32, def bool, policy *corev1.PreemptionPolicy) *schedulingv1.PriorityClass {
	return &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value, GlobalDefault: def, PreemptionPolicy: policy}
}

func TestAdmitPods(t *testing.T) {
	never := ptr.To(corev1.PreemptNever)
	tests := []struct {
		name       string
		classes    []runtime.Object
		spec       corev1.PodSpec
		wantClass  string
		wantValue  int32
		wantPolicy corev1.PreemptionPolicy
		wantErr    string
	}{
		{name: "no class, no default", wantValue: 0, wantPolicy: corev1.PreemptLowerPriority},
		{name: "global default", classes: []runtime.Object{class("low", 10, true, never), class("high", 1000, false, nil)},
			wantClass: "low", wantValue: 10, wantPolicy: corev1.PreemptNever},
		{name: "named class", classes: []runtime.Object{class("low", 10, true, nil), class("high", 1000, false, nil)},
			spec: corev1.PodSpec{PriorityClassName: "high"}, wantClass: "high", wantValue: 1000, wantPolicy: corev1.PreemptLowerPriority},
		{name: "unknown class", spec: corev1.PodSpec{PriorityClassName: "ghost"}, wantErr: `pods "p" is forbidden: no PriorityClass with name ghost was found`},
		{name: "own priority matching", classes: []runtime.Object{class("high", 1000, false, nil)},
			spec: corev1.PodSpec{PriorityClassName: "high", Priority: ptr.To[int32](1000)}, wantClass: "high", wantValue: 1000, wantPolicy: corev1.PreemptLowerPriority},
		{name: "own priority differing", classes: []runtime.Object{class("high", 1000, false, nil)},
			spec:    corev1.PodSpec{PriorityClassName: "high", Priority: ptr.To[int32](5)},
			wantErr: `pods "p" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plugin{}
			p.UseObjects(admissiontest.Objects{classesResource: tt.classes})
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: tt.spec}
			err := p.Admit(context.Background(), &admission.Attributes{Operation: admission.Create, Resource: corev1.SchemeGroupVersion.WithResource("pods"), Name: "p", Object: pod})
			if tt.wantErr != "" {
				if !apierrors.IsForbidden(err) || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pod.Spec.PriorityClassName != tt.wantClass || *pod.Spec.Priority != tt.wantValue || *pod.Spec.PreemptionPolicy != tt.wantPolicy {
				t.Errorf("got class %q priority %d policy %s, want %q %d %s", pod.Spec.PriorityClassName, *pod.Spec.Priority, *pod.Spec.PreemptionPolicy, tt.wantClass, tt.wantValue, tt.wantPolicy)
			}
		})
	}
}

func TestOneGlobalDefault(t *testing.T) {
	p := &Plugin{}
	p.UseObjects(admissiontest.Objects{classesResource: {class("low", 10, true, nil)}})
	validate := func(pc *schedulingv1.PriorityClass, op admission.Operation) error {
		return p.Validate(context.Background(), &admission.Attributes{Operation: op, Resource: schedulingv1.SchemeGroupVersion.WithResource("priorityclasses"), Name: pc.Name, Object: pc})
	}
	err := validate(class("other", 5, true, nil), admission.Create)
	if !apierrors.IsForbidden(err) || err.Error() != `priorityclasses.scheduling.k8s.io "other" is forbidden: PriorityClass low is already marked as default. Only one default can exist` {
		t.Errorf("second default: %v", err)
	}
	if err := validate(class("low", 11, true, nil), admission.Update); err != nil {
		t.Errorf("updating the default: %v", err)
	}
	if err := validate(class("plain", 1, false, nil), admission.Create); err != nil {
		t.Errorf("non-default class: %v", err)
	}
}
