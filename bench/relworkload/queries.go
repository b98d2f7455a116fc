package relworkload

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// The three query sets. Each draws half of its subjects from users close
// to the object (so that about half the answers are yes, reached through
// the path the set is about) and half at random (mostly no: the engine must
// explore every path before it may deny).

// Mixed returns n checks of member, admin and viewer on random orgs of
// the main population.
func (d *Dataset) Mixed(n int, seed uint64) []Check {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]Check, n)
	for i := range out {
		o := id("o", rng.IntN(d.cfg.Orgs))
		rel := "member"
		switch r := rng.IntN(10); {
		case r < 2:
			rel = "admin"
		case r < 5:
			rel = "viewer"
		}
		u := id("u", rng.IntN(d.cfg.Users))
		if rng.IntN(2) == 0 {
			u = d.nearUser(rng, o)
		}
		out[i] = d.check(u, rel, o)
	}
	return out
}

// Nested returns n member checks on the nested-groups orgs; the users close
// to an org are those of its deepest group.
func (d *Dataset) Nested(n int, seed uint64) []Check {
	return d.shaped(n, seed, d.cfg.Nested, "n", func(k int) string {
		return fmt.Sprintf("n%d_%d", k, d.cfg.NestDepth-1)
	})
}

// Wide returns n member checks on the wide-groups orgs; the users close to
// an org are those of its last group.
func (d *Dataset) Wide(n int, seed uint64) []Check {
	return d.shaped(n, seed, d.cfg.Wide, "w", func(k int) string {
		return fmt.Sprintf("w%d_%d", k, d.cfg.WideGroups-1)
	})
}

func (d *Dataset) shaped(n int, seed uint64, orgs int, prefix string, far func(k int) string) []Check {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([]Check, n)
	for i := range out {
		k := rng.IntN(orgs)
		u := id("u", rng.IntN(d.cfg.Users))
		if rng.IntN(2) == 0 {
			u = anyOf(rng, d.groupUsers[far(k)])
		}
		out[i] = d.check(u, "member", id(prefix, k))
	}
	return out
}

// nearUser returns a user related to org o one way or another: a direct
// member, an owner, an admin, a member of one of its groups or partners,
// or an admin of its parent.
func (d *Dataset) nearUser(rng *rand.Rand, o string) string {
	g := d.orgs[o]
	sets := []map[string]bool{g.members, g.owners, g.adminUsers}
	for _, x := range append(append([]string(nil), g.adminGroups...), g.memberGroups...) {
		sets = append(sets, d.groupUsers[x])
	}
	for _, p := range g.partners {
		sets = append(sets, d.partnerUsers[p])
	}
	if g.parent != "" {
		sets = append(sets, d.orgs[g.parent].adminUsers, d.orgs[g.parent].owners)
	}
	return anyOf(rng, sets[rng.IntN(len(sets))])
}

// anyOf returns a random element of a non-empty set, the same for the same
// random state (sets are small; sorting keeps it deterministic).
func anyOf(rng *rand.Rand, set map[string]bool) string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys[rng.IntN(len(keys))]
}

func (d *Dataset) check(user, rel, o string) Check {
	return Check{Subject: "user:" + user, Relation: rel, Object: "org:" + o, Want: d.Has(user, rel, o)}
}

// Has is the answer oracle: whether user has relation rel (member, admin
// or viewer) to org o, computed from the direct relationships by the
// model's rules, without any engine.
func (d *Dataset) Has(user, rel, o string) bool {
	g := d.orgs[o]
	if g == nil {
		return false
	}
	admin := func(g *org) bool {
		return g.owners[user] || g.adminUsers[user] || d.inAnyGroup(user, g.adminGroups)
	}
	member := admin(g) || g.members[user] || d.inAnyGroup(user, g.memberGroups) || d.inAnyPartner(user, g.partners)
	switch rel {
	case "admin":
		return admin(g)
	case "member":
		return member
	case "viewer":
		return member || (g.parent != "" && admin(d.orgs[g.parent]))
	}
	return false
}

func (d *Dataset) inAnyPartner(user string, partners []string) bool {
	for _, p := range partners {
		if d.partnerUsers[p][user] {
			return true
		}
	}
	return false
}

// inAnyGroup reports whether user is a member of one of groups, directly
// or through groups they contain (the group graph is acyclic).
func (d *Dataset) inAnyGroup(user string, groups []string) bool {
	for _, g := range groups {
		if d.groupUsers[g][user] || d.inAnyGroup(user, d.groupGroups[g]) {
			return true
		}
	}
	return false
}
