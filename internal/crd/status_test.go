package crd

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStatus(t *testing.T) {
	then := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	now := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	at := metav1.NewTime(now)
	type names = apiextensionsv1.CustomResourceDefinitionNames
	type cond = apiextensionsv1.CustomResourceDefinitionCondition
	cronNames := names{Plural: "crontabs", Singular: "crontab", ShortNames: []string{"ct"}, Kind: "CronTab", ListKind: "CronTabList"}
	accepted := cond{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionTrue, Reason: "NoConflicts", Message: "no conflicts found", LastTransitionTime: at}
	established := cond{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue, Reason: "InitialNamesAccepted", Message: "the initial names have been accepted", LastTransitionTime: at}
	// other is another CRD of the same group that holds names.
	other := func(n names) *crd {
		c := newCRD(t).obj()
		c.Name = n.Plural + ".stable.example.com"
		c.Spec.Names = n
		c.Status.AcceptedNames = n
		return c
	}
	tests := []struct {
		name   string
		crd    *crd
		others []*crd
		want   apiextensionsv1.CustomResourceDefinitionStatus
	}{
		{
			name:   "new CRD without conflicts",
			crd:    newCRD(t).obj(),
			others: []*crd{newCRD(t).obj(), other(names{Plural: "foos", Singular: "foo", Kind: "Foo", ListKind: "FooList"})},
			want: apiextensionsv1.CustomResourceDefinitionStatus{
				AcceptedNames:  cronNames,
				Conditions:     []cond{accepted, established},
				StoredVersions: []string{"v1"},
			},
		},
		{
			name: "conflicting plural and short name: the last conflict is reported",
			crd:  newCRD(t).obj(),
			others: []*crd{
				other(names{Plural: "xs", Singular: "crontabs", Kind: "X", ListKind: "XList"}),
				other(names{Plural: "ys", Singular: "y", ShortNames: []string{"ct"}, Kind: "Y", ListKind: "YList"}),
			},
			want: apiextensionsv1.CustomResourceDefinitionStatus{
				AcceptedNames: names{Singular: "crontab", Kind: "CronTab", ListKind: "CronTabList"},
				Conditions: []cond{
					{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionFalse, Reason: "ShortNamesConflict", Message: `"ct" is already in use`, LastTransitionTime: at},
					{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionFalse, Reason: "NotAccepted", Message: "not all names are accepted", LastTransitionTime: at},
				},
				StoredVersions: []string{"v1"},
			},
		},
		{
			name: "conflicting kind in another group is no conflict",
			crd:  newCRD(t).obj(),
			others: []*crd{newCRD(t).with(func(c *crd) {
				c.Name, c.Spec.Group = "crontabs.other.example.com", "other.example.com"
				c.Status.AcceptedNames = cronNames
			}).obj()},
			want: apiextensionsv1.CustomResourceDefinitionStatus{
				AcceptedNames:  cronNames,
				Conditions:     []cond{accepted, established},
				StoredVersions: []string{"v1"},
			},
		},
		{
			name: "a renamed kind that conflicts keeps the accepted one and stays established",
			crd: newCRD(t).with(func(c *crd) {
				c.Spec.Names.Kind, c.Spec.Names.ListKind = "Job", "JobList"
				c.Status.AcceptedNames = cronNames
				c.Status.Conditions = []cond{
					{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionTrue, Reason: "NoConflicts", Message: "no conflicts found", LastTransitionTime: then},
					{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue, Reason: "InitialNamesAccepted", Message: "the initial names have been accepted", LastTransitionTime: then},
				}
			}).obj(),
			others: []*crd{other(names{Plural: "jobs", Singular: "job", Kind: "Job", ListKind: "JobList"})},
			want: apiextensionsv1.CustomResourceDefinitionStatus{
				AcceptedNames: cronNames,
				Conditions: []cond{
					{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionFalse, Reason: "ListKindConflict", Message: `"JobList" is already in use`, LastTransitionTime: at},
					{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue, Reason: "InitialNamesAccepted", Message: "the initial names have been accepted", LastTransitionTime: then},
				},
				StoredVersions: []string{"v1"},
			},
		},
		{
			name: "accepted names and conditions are kept; a new storage version is recorded",
			crd: newCRD(t).with(func(c *crd) {
				c.Spec.Versions[0].Name = "v2"
				c.Status.StoredVersions = []string{"v1"}
				c.Status.AcceptedNames = cronNames
				c.Status.Conditions = []cond{
					{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionTrue, Reason: "NoConflicts", Message: "no conflicts found", LastTransitionTime: then},
					{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue, Reason: "InitialNamesAccepted", Message: "the initial names have been accepted", LastTransitionTime: then},
				}
			}).obj(),
			want: apiextensionsv1.CustomResourceDefinitionStatus{
				AcceptedNames: cronNames,
				Conditions: []cond{
					{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionTrue, Reason: "NoConflicts", Message: "no conflicts found", LastTransitionTime: then},
					{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue, Reason: "InitialNamesAccepted", Message: "the initial names have been accepted", LastTransitionTime: then},
				},
				StoredVersions: []string{"v1", "v2"},
			},
		},
		{
			name: "protected group",
			crd: newCRD(t).with(func(c *crd) {
				c.Name, c.Spec.Group = "crontabs.x.k8s.io", "x.k8s.io"
				c.Annotations = map[string]string{"api-approved.kubernetes.io": "unapproved, experimental"}
			}).obj(),
			want: apiextensionsv1.CustomResourceDefinitionStatus{
				AcceptedNames: cronNames,
				Conditions: []cond{accepted, established, {
					Type: apiextensionsv1.KubernetesAPIApprovalPolicyConformant, Status: apiextensionsv1.ConditionFalse,
					Reason: "UnapprovedAnnotation", Message: `not approved: "unapproved, experimental"`, LastTransitionTime: at,
				}},
				StoredVersions: []string{"v1"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.crd.DeepCopy()
			got := Status(tt.crd, tt.others, now)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tt.crd); diff != "" {
				t.Errorf("Status modified its argument (-before +after):\n%s", diff)
			}
		})
	}
}
