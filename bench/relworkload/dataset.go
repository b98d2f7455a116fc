package relworkload

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Tuple is one relationship in Atrium's notation: Object "org:o1",
// Relation "member", Subject "user:u1" or the userset "group:g1#member".
type Tuple struct {
	Object, Relation, Subject string
}

// String returns the tuple as object#relation@subject.
func (t Tuple) String() string { return t.Object + "#" + t.Relation + "@" + t.Subject }

// Check is one check query and its answer, known in advance.
type Check struct {
	Subject, Relation, Object string
	Want                      bool
}

// Config sizes a dataset. The zero value of a field is not a default: use
// DefaultConfig and change what you need.
type Config struct {
	Seed        uint64
	Users       int // user:u0 … the pool every other set draws from
	Groups      int // group:g0 …, each with GroupSize users
	GroupSize   int
	SubGroups   int // group-in-group tuples among the groups, acyclic
	Partners    int // partner:p0 …, each with PartnerSize users
	PartnerSize int
	Orgs        int // org:o0 …; the first ParentOrgs are the parents of the rest
	ParentOrgs  int
	OrgMembers  int // direct user members of each org
	Nested      int // org:nK with a chain of NestDepth groups
	NestDepth   int
	Wide        int // org:wK with WideGroups sibling groups
	WideGroups  int
	SmallGroup  int // users in each nested or wide group
}

// DefaultConfig returns the benchmark's dataset size: about 112,000
// tuples.
func DefaultConfig() Config {
	return Config{
		Seed: 1, Users: 20000, Groups: 2000, GroupSize: 20, SubGroups: 200,
		Partners: 300, PartnerSize: 15, Orgs: 1000, ParentOrgs: 100, OrgMembers: 50,
		Nested: 50, NestDepth: 5, Wide: 50, WideGroups: 25, SmallGroup: 5,
	}
}

// Dataset is a generated set of tuples with the direct relationships
// indexed for the answer oracle.
type Dataset struct {
	cfg    Config
	rng    *rand.Rand
	Tuples []Tuple

	groupUsers   map[string]map[string]bool // group id → direct user ids
	groupGroups  map[string][]string        // group id → member group ids
	partnerUsers map[string]map[string]bool
	orgs         map[string]*org
}

// org holds one organisation's direct relationships.
type org struct {
	parent                      string
	owners, adminUsers, members map[string]bool
	adminGroups, memberGroups   []string
	partners                    []string
}

func newOrg() *org {
	return &org{owners: map[string]bool{}, adminUsers: map[string]bool{}, members: map[string]bool{}}
}

// Generate returns the dataset of c, the same for the same c.
func Generate(c Config) *Dataset {
	d := &Dataset{
		cfg: c, rng: rand.New(rand.NewPCG(c.Seed, 0x5eed)),
		groupUsers: map[string]map[string]bool{}, groupGroups: map[string][]string{},
		partnerUsers: map[string]map[string]bool{}, orgs: map[string]*org{},
	}
	for g := range c.Groups {
		d.fillGroup(id("g", g), c.GroupSize)
	}
	for range c.SubGroups {
		// A group only ever contains a group of a higher number: no cycles.
		a := d.rng.IntN(c.Groups - 1)
		b := a + 1 + d.rng.IntN(c.Groups-a-1)
		d.addGroupInGroup(id("g", a), id("g", b))
	}
	for p := range c.Partners {
		users := map[string]bool{}
		d.partnerUsers[id("p", p)] = users
		for _, u := range d.distinctUsers(c.PartnerSize) {
			users[u] = true
			d.add("partner:"+id("p", p), "member", "user:"+u)
		}
	}
	for o := range c.Orgs {
		d.fillOrg(o)
	}
	for k := range c.Nested {
		d.nested(k)
	}
	for k := range c.Wide {
		d.wide(k)
	}
	return d
}

func id(prefix string, n int) string { return prefix + strconv.Itoa(n) }

func (d *Dataset) add(object, relation, subject string) {
	d.Tuples = append(d.Tuples, Tuple{object, relation, subject})
}

// user returns a random user id.
func (d *Dataset) user() string { return id("u", d.rng.IntN(d.cfg.Users)) }

// distinctUsers returns n different random user ids.
func (d *Dataset) distinctUsers(n int) []string {
	seen := map[string]bool{}
	out := make([]string, 0, n)
	for len(out) < n && len(out) < d.cfg.Users {
		if u := d.user(); !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

func (d *Dataset) fillGroup(g string, size int) {
	users := map[string]bool{}
	d.groupUsers[g] = users
	for _, u := range d.distinctUsers(size) {
		users[u] = true
		d.add("group:"+g, "member", "user:"+u)
	}
}

func (d *Dataset) addGroupInGroup(outer, inner string) {
	for _, g := range d.groupGroups[outer] {
		if g == inner {
			return
		}
	}
	d.groupGroups[outer] = append(d.groupGroups[outer], inner)
	d.add("group:"+outer, "member", "group:"+inner+"#member")
}

// pick returns n different random ids prefix0 … prefix(max-1).
func (d *Dataset) pick(prefix string, n, max int) []string {
	seen := map[int]bool{}
	var out []string
	for len(out) < n && len(out) < max {
		if i := d.rng.IntN(max); !seen[i] {
			seen[i] = true
			out = append(out, id(prefix, i))
		}
	}
	return out
}

func (d *Dataset) fillOrg(n int) {
	c, o, obj := d.cfg, newOrg(), "org:"+id("o", n)
	d.orgs[id("o", n)] = o
	if n >= c.ParentOrgs && c.ParentOrgs > 0 {
		o.parent = id("o", n%c.ParentOrgs)
		d.add(obj, "parent", "org:"+o.parent)
	}
	users := d.distinctUsers(3 + c.OrgMembers)
	o.owners[users[0]] = true
	d.add(obj, "owner", "user:"+users[0])
	for _, u := range users[1:3] {
		o.adminUsers[u] = true
		d.add(obj, "admin", "user:"+u)
	}
	for _, u := range users[3:] {
		o.members[u] = true
		d.add(obj, "member", "user:"+u)
	}
	groups := d.pick("g", 3, c.Groups)
	o.adminGroups = groups[:1]
	d.add(obj, "admin", "group:"+groups[0]+"#member")
	o.memberGroups = groups[1:]
	for _, g := range groups[1:] {
		d.add(obj, "member", "group:"+g+"#member")
	}
	o.partners = d.pick("p", 2, c.Partners)
	for _, p := range o.partners {
		d.add(obj, "member", "partner:"+p+"#member")
	}
}

// nested adds org:nK whose members are the members of group nK_0, which
// contains nK_1, and so on down to nK_(depth-1).
func (d *Dataset) nested(k int) {
	c, o := d.cfg, newOrg()
	name := id("n", k)
	d.orgs[name] = o
	for i := range c.NestDepth {
		g := fmt.Sprintf("n%d_%d", k, i)
		d.fillGroup(g, c.SmallGroup)
		if i > 0 {
			d.addGroupInGroup(fmt.Sprintf("n%d_%d", k, i-1), g)
		}
	}
	o.memberGroups = []string{name + "_0"}
	d.add("org:"+name, "member", "group:"+name+"_0#member")
}

// wide adds org:wK whose members are the members of WideGroups sibling
// groups wK_0 ….
func (d *Dataset) wide(k int) {
	c, o := d.cfg, newOrg()
	name := id("w", k)
	d.orgs[name] = o
	for i := range c.WideGroups {
		g := fmt.Sprintf("w%d_%d", k, i)
		d.fillGroup(g, c.SmallGroup)
		o.memberGroups = append(o.memberGroups, g)
		d.add("org:"+name, "member", "group:"+g+"#member")
	}
}
