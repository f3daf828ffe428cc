package auth

import "context"

// SystemMasters is the superuser group: upstream's privileged-group
// authorizer allows its members everything, before RBAC is asked.
const SystemMasters = "system:masters"

// Masters allows every request of a member of system:masters and has no
// opinion on others.
type Masters struct{}

var _ Authorizer = Masters{}

// Authorize implements Authorizer.
func (Masters) Authorize(_ context.Context, a Attributes) (Decision, string, error) {
	for _, g := range a.User.Groups {
		if g == SystemMasters {
			return Allow, "", nil
		}
	}
	return NoOpinion, "", nil
}
