// Package rbac is berth's Role-Based Access Control, as upstream
// Kubernetes' RBAC authorizer: Roles, ClusterRoles, RoleBindings and
// ClusterRoleBindings (rbac.authorization.k8s.io/v1) read from the API
// server's watch cache on every request (auth.Objects), never cached here.
//
// What it owns:
//   - Authorizer: allows a request when a rule of a role bound to the user
//     (by name, group, or ServiceAccount user name) matches it; otherwise it
//     has no opinion, so the next authorizer, or the final refusal, decides.
//   - Escalation: the admission.Validator that refuses to create or update a
//     role granting, or a binding referring to, permissions the user lacks
//     unless the user may `escalate` or `bind` it.
//   - Reviewers: SubjectAccessReview, LocalSubjectAccessReview,
//     SelfSubjectAccessReview and SelfSubjectRulesReview answers.
//   - DefaultPolicy and Reconcile: upstream's bootstrap roles and bindings,
//     which the API server creates and reconciles at every start.
//
// Rule matching and coverage are pure functions over rbacv1 types.
package rbac
