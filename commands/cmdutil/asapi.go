package cmdutil

// AsAPI turns a Factory client constructor's result into the narrow
// interface a command consumes, as in
//
//	SQS: func(ctx context.Context) (queue.API, error) { return cmdutil.AsAPI[queue.API](f.SQS(ctx)) }
//
// On error it returns a nil interface, never an interface holding a nil
// *Client. The caller's package should assert at compile time that the
// client implements T (var _ T = (*sqs.Client)(nil)): the conversion here
// is checked only when it runs.
func AsAPI[T any, C any](c *C, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	return any(c).(T), nil
}
