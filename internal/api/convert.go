package api

import (
	"encoding/json"
	"time"

	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/fault"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// timestamp converts t, leaving the zero time unset.
func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// toStruct converts fragment data to a Struct. Data read from storage or
// validated against a schema is JSON, so conversion cannot fail; if it
// does, that is a bug.
func toStruct(op string, m map[string]any) (*structpb.Struct, error) {
	s, err := structpb.NewStruct(m)
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	return s, nil
}

// jsonStruct converts a stored JSON object (event or audit data) to a
// Struct; stored data is Atrium's own JSON, so failure is a bug.
func jsonStruct(op string, b []byte) (*structpb.Struct, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	return toStruct(op, m)
}

func accountToProto(a *account.Account) (*atriumv1.Account, error) {
	out := &atriumv1.Account{
		Id: a.ID, Kind: a.Kind, State: a.State, Version: a.Version,
		CreateTime: timestamp(a.CreateTime), UpdateTime: timestamp(a.UpdateTime), EraseTime: timestamp(a.EraseTime),
		FreshnessToken: a.Freshness,
	}
	if len(a.Fragments) > 0 {
		out.Fragments = make(map[string]*structpb.Struct, len(a.Fragments))
		out.FragmentVersions = make(map[string]int64, len(a.Fragments))
	}
	for name, f := range a.Fragments {
		s, err := toStruct("api.account", f.Data)
		if err != nil {
			return nil, err
		}
		out.Fragments[name], out.FragmentVersions[name] = s, f.Version
	}
	for _, id := range a.Identifiers {
		out.Identifiers = append(out.Identifiers, identifierToProto(&id))
	}
	return out, nil
}

func identifierToProto(id *account.Identifier) *atriumv1.Identifier {
	return &atriumv1.Identifier{Type: id.Type, Value: id.Value, VerifyTime: timestamp(id.VerifyTime),
		CreateTime: timestamp(id.CreateTime), FreshnessToken: id.Freshness}
}

func fragmentToProto(f *account.Fragment) (*atriumv1.Fragment, error) {
	s, err := toStruct("api.fragment", f.Data)
	if err != nil {
		return nil, err
	}
	return &atriumv1.Fragment{AccountId: f.AccountID, Name: f.Name, Version: f.Version, Sensitivity: string(f.Sensitivity),
		Data: s, UpdateTime: timestamp(f.UpdateTime), FreshnessToken: f.Freshness}, nil
}

// structMap returns the data of s, or nil for a nil Struct.
func structMap(s *structpb.Struct) map[string]any {
	if s == nil {
		return nil
	}
	return s.AsMap()
}
