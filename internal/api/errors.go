package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/internal/fault"
)

// status is how one fault.Kind is shown over each protocol.
type status struct {
	code connect.Code
	http int
}

// statuses is the one table from error kinds to protocol statuses.
var statuses = map[fault.Kind]status{
	fault.Internal:           {connect.CodeInternal, http.StatusInternalServerError},
	fault.Invalid:            {connect.CodeInvalidArgument, http.StatusBadRequest},
	fault.NotFound:           {connect.CodeNotFound, http.StatusNotFound},
	fault.AlreadyExists:      {connect.CodeAlreadyExists, http.StatusConflict},
	fault.Aborted:            {connect.CodeAborted, http.StatusConflict},
	fault.FailedPrecondition: {connect.CodeFailedPrecondition, http.StatusBadRequest},
	fault.Unauthenticated:    {connect.CodeUnauthenticated, http.StatusUnauthorized},
	fault.PermissionDenied:   {connect.CodePermissionDenied, http.StatusForbidden},
	fault.ResourceExhausted:  {connect.CodeResourceExhausted, http.StatusTooManyRequests},
	fault.TooLarge:           {connect.CodeResourceExhausted, http.StatusRequestEntityTooLarge},
	fault.UnsupportedMedia:   {connect.CodeInvalidArgument, http.StatusUnsupportedMediaType},
	fault.Unavailable:        {connect.CodeUnavailable, http.StatusServiceUnavailable},
	fault.DeadlineExceeded:   {connect.CodeDeadlineExceeded, http.StatusGatewayTimeout},
	fault.Canceled:           {connect.CodeCanceled, 499},
}

// statusOf returns the protocol status of err.
func statusOf(err error) status {
	if s, ok := statuses[fault.KindOf(err)]; ok {
		return s
	}
	return statuses[fault.Internal]
}

// normalize classifies errors that did not come from the domain: context
// ends, over-long bodies.
func normalize(err error) error {
	if _, ok := errors.AsType[*fault.Error](err); ok {
		return err
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &fault.Error{Kind: fault.TooLarge, Msg: "request body too large", Err: err}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return fault.Wrap("api", fault.Canceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fault.Wrap("api", fault.DeadlineExceeded, err)
	}
	return err
}

// logFailure logs errors that are the server's fault. Client errors are not
// logged: they are the caller's to see, and may carry the caller's data.
func logFailure(ctx context.Context, log *slog.Logger, procedure string, err error) {
	switch fault.KindOf(err) {
	case fault.Internal, fault.Unavailable:
		log.ErrorContext(ctx, "request failed", "procedure", procedure, "kind", fault.KindOf(err).String(), "err", err)
	}
}

// toConnect turns a domain error into a Connect error, with field
// violations as a BadRequest detail.
func toConnect(err error) error {
	msg, vs := fault.PublicOf(err)
	ce := connect.NewError(statusOf(err).code, errors.New(msg))
	if st := statusOf(err).http; st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable {
		ce.Meta().Set("Retry-After", retryAfter(err))
	}
	if len(vs) > 0 {
		br := &atriumv1.BadRequest{}
		for _, v := range vs {
			br.FieldViolations = append(br.FieldViolations, &atriumv1.FieldViolation{Field: v.Field, Reason: v.Reason})
		}
		if d, derr := connect.NewErrorDetail(br); derr == nil {
			ce.AddDetail(d)
		}
	}
	return ce
}

// errorInterceptor classifies and logs handler errors and turns them into
// Connect errors, so that handlers return domain errors only.
func errorInterceptor(log *slog.Logger) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			res, err := next(ctx, req)
			if err == nil {
				return res, nil
			}
			if _, ok := errors.AsType[*connect.Error](err); ok && fault.KindOf(err) == fault.Internal {
				return nil, err // already a protocol error, from Connect itself
			}
			err = normalize(err)
			logFailure(ctx, log, req.Spec().Procedure, err)
			return nil, toConnect(err)
		}
	}
}

// restError is the JSON body of a REST error.
type restError struct {
	Code            string          `json:"code"`
	Message         string          `json:"message"`
	FieldViolations []restViolation `json:"fieldViolations,omitempty"`
}

type restViolation struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// retryAfter returns the Retry-After value of err: the wait its cause
// names (as a throttled login does), or one second.
func retryAfter(err error) string {
	if ra, ok := errors.AsType[interface {
		error
		RetryAfter() string
	}](err); ok {
		return ra.RetryAfter()
	}
	return "1"
}

// writeError writes err as a REST error response.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	err = normalize(err)
	logFailure(r.Context(), log, r.Method+" "+r.URL.Path, err)
	respondError(w, err)
}

// respondError writes err as a REST error response, without logging it.
func respondError(w http.ResponseWriter, err error) {
	st := statusOf(err)
	msg, vs := fault.PublicOf(err)
	body := restError{Code: st.code.String(), Message: msg}
	for _, v := range vs {
		body.FieldViolations = append(body.FieldViolations, restViolation(v))
	}
	if st.http == http.StatusTooManyRequests || st.http == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter(err))
	}
	writeJSON(w, st.http, body)
}
