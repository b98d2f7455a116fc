// Package relworkload is the relationship workload that the relationship
// benchmarks share: one authorization model written in the three languages
// it is measured in (an Atrium kinds document, an OpenFGA JSON model and a
// SpiceDB schema), a deterministic set of tuples over organisations,
// partners, groups and users, and check queries whose answers are known in
// advance from an evaluator of its own, independent of every engine
// measured.
//
// The model is small and realistic: users belong to groups (which may
// contain groups), partners and organisations; organisations have owners,
// admins (users or group members), members (users, group members, partner
// members, and every admin) and a parent organisation whose admins may view
// them. Two extra shapes stress the graph walk: nested groups (a chain of
// groups five deep) and wide groups (an organisation whose members are 25
// sibling groups).
package relworkload

// KindsDocument is the Atrium kinds document declaring the model.
const KindsDocument = `kinds:
  user:
    id_prefix: usr
    lifecycle: {initial: active}
  group:
    id_prefix: grp
    lifecycle: {initial: active}
    relations: |
      define member: [user, group#member]
  partner:
    id_prefix: ptn
    lifecycle: {initial: active}
    relations: |
      define member: [user]
  org:
    id_prefix: org
    lifecycle: {initial: active}
    relations: |
      define parent: [org]
      define owner: [user]
      define admin: [user, group#member] or owner
      define member: [user, group#member, partner#member] or admin
      define viewer: member or admin from parent
`

// OpenFGAModel is the same model as OpenFGA's JSON authorization model
// (schema 1.1), the body of a write-authorization-model request.
const OpenFGAModel = `{
  "schema_version": "1.1",
  "type_definitions": [
    {"type": "user"},
    {"type": "group",
     "relations": {"member": {"this": {}}},
     "metadata": {"relations": {"member": {"directly_related_user_types": [{"type": "user"}, {"type": "group", "relation": "member"}]}}}},
    {"type": "partner",
     "relations": {"member": {"this": {}}},
     "metadata": {"relations": {"member": {"directly_related_user_types": [{"type": "user"}]}}}},
    {"type": "org",
     "relations": {
       "parent": {"this": {}},
       "owner": {"this": {}},
       "admin": {"union": {"child": [{"this": {}}, {"computedUserset": {"relation": "owner"}}]}},
       "member": {"union": {"child": [{"this": {}}, {"computedUserset": {"relation": "admin"}}]}},
       "viewer": {"union": {"child": [
         {"computedUserset": {"relation": "member"}},
         {"tupleToUserset": {"tupleset": {"relation": "parent"}, "computedUserset": {"relation": "admin"}}}]}}
     },
     "metadata": {"relations": {
       "parent": {"directly_related_user_types": [{"type": "org"}]},
       "owner": {"directly_related_user_types": [{"type": "user"}]},
       "admin": {"directly_related_user_types": [{"type": "user"}, {"type": "group", "relation": "member"}]},
       "member": {"directly_related_user_types": [{"type": "user"}, {"type": "group", "relation": "member"}, {"type": "partner", "relation": "member"}]},
       "viewer": {"directly_related_user_types": []}
     }}}
  ]
}`

// SpiceDBSchema is the same model in SpiceDB's schema language. SpiceDB
// keeps stored relations and computed permissions apart, so the stored part
// of org's admin and member are the relations direct_admin and
// direct_member; SpiceDBRelation maps tuple relations onto them.
const SpiceDBSchema = `definition user {}

definition group {
	relation member: user | group#member
}

definition partner {
	relation member: user
}

definition org {
	relation parent: org
	relation owner: user
	relation direct_admin: user | group#member
	relation direct_member: user | group#member | partner#member
	permission admin = owner + direct_admin
	permission member = direct_member + admin
	permission viewer = member + parent->admin
}
`

// SpiceDBRelation returns the SpiceDB relation that stores the tuples of
// objectType#relation.
func SpiceDBRelation(objectType, relation string) string {
	if objectType == "org" && (relation == "admin" || relation == "member") {
		return "direct_" + relation
	}
	return relation
}
