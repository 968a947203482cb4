package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/convot/convot/internal/testenv"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/grpc"
)

// fakeOperator is a namespace's search attributes behind the operator
// service; the methods the test does not expect panic (nil embedded).
type fakeOperator struct {
	operatorservice.OperatorServiceClient
	custom  map[string]enumspb.IndexedValueType
	adds    []map[string]enumspb.IndexedValueType
	addErr  error
	listErr error
}

func (f *fakeOperator) ListSearchAttributes(_ context.Context, req *operatorservice.ListSearchAttributesRequest, _ ...grpc.CallOption) (*operatorservice.ListSearchAttributesResponse, error) {
	if f.listErr != nil {
		return nil, f.listErr
	}
	custom := map[string]enumspb.IndexedValueType{}
	for k, v := range f.custom {
		custom[k] = v
	}
	return &operatorservice.ListSearchAttributesResponse{
		CustomAttributes: custom,
		SystemAttributes: map[string]enumspb.IndexedValueType{"WorkflowId": enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	}, nil
}

func (f *fakeOperator) AddSearchAttributes(_ context.Context, req *operatorservice.AddSearchAttributesRequest, _ ...grpc.CallOption) (*operatorservice.AddSearchAttributesResponse, error) {
	if req.GetNamespace() != "convot-test" {
		return nil, serviceerror.NewInvalidArgument("namespace is not set")
	}
	f.adds = append(f.adds, req.GetSearchAttributes())
	if f.addErr != nil {
		return nil, f.addErr
	}
	for k, v := range req.GetSearchAttributes() {
		f.custom[k] = v
	}
	return &operatorservice.AddSearchAttributesResponse{}, nil
}

type fakeClient struct {
	client.Client
	ops *fakeOperator
}

func (c fakeClient) OperatorService() operatorservice.OperatorServiceClient { return c.ops }

func TestSearchAttributeTypes(t *testing.T) {
	require.Len(t, SearchAttributes, 11)
	for _, key := range []interface {
		GetName() string
		GetValueType() enumspb.IndexedValueType
	}{ConvotOrgId, DsrType, DsrStatus, DsrDeadline, ConversationStatus, CancellationDeleteAt, BreachNoticeDue, BreachStatus, ProcessKind, ProcessStatus, ShopifyTopic} {
		require.Equal(t, key.GetValueType(), SearchAttributes[key.GetName()], key.GetName())
	}
	require.Equal(t, enumspb.INDEXED_VALUE_TYPE_DATETIME, SearchAttributes["DsrDeadline"])
	require.Equal(t, enumspb.INDEXED_VALUE_TYPE_KEYWORD, SearchAttributes["ConvotOrgId"])
	// The SQL visibility store offers three Datetime attributes: new
	// processes share DsrDeadline (DESIGN.md).
	datetimes := 0
	for _, typ := range SearchAttributes {
		if typ == enumspb.INDEXED_VALUE_TYPE_DATETIME {
			datetimes++
		}
	}
	require.LessOrEqual(t, datetimes, 3)
}

func TestRegisterSearchAttributesAddsOnlyTheMissing(t *testing.T) {
	ops := &fakeOperator{custom: map[string]enumspb.IndexedValueType{
		"ConvotOrgId":  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"SomeoneElses": enumspb.INDEXED_VALUE_TYPE_INT,
	}}
	c := fakeClient{ops: ops}
	ctx := context.Background()

	require.NoError(t, RegisterSearchAttributes(ctx, c, "convot-test"))
	require.Len(t, ops.adds, 1)
	require.Len(t, ops.adds[0], len(SearchAttributes)-1)
	require.NotContains(t, ops.adds[0], "ConvotOrgId")
	for name, typ := range SearchAttributes {
		require.Equal(t, typ, ops.custom[name], name)
	}

	// Twice is fine, and adds nothing.
	require.NoError(t, RegisterSearchAttributes(ctx, c, "convot-test"))
	require.Len(t, ops.adds, 1)
}

func TestRegisterSearchAttributesAlreadyExists(t *testing.T) {
	for name, err := range map[string]error{
		"AlreadyExists":   serviceerror.NewAlreadyExists("Search attribute DsrType already exists."),
		"InvalidArgument": serviceerror.NewInvalidArgument("Search attribute DsrType already exists."),
	} {
		t.Run(name, func(t *testing.T) {
			ops := &fakeOperator{custom: map[string]enumspb.IndexedValueType{}, addErr: err}
			require.NoError(t, RegisterSearchAttributes(context.Background(), fakeClient{ops: ops}, "convot-test"))
			require.Len(t, ops.adds, 1)
		})
	}
}

func TestRegisterSearchAttributesErrors(t *testing.T) {
	ctx := context.Background()

	ops := &fakeOperator{custom: map[string]enumspb.IndexedValueType{}, addErr: serviceerror.NewUnavailable("down")}
	require.ErrorContains(t, RegisterSearchAttributes(ctx, fakeClient{ops: ops}, "convot-test"), "down")

	ops = &fakeOperator{listErr: serviceerror.NewPermissionDenied("no", "")}
	require.Error(t, RegisterSearchAttributes(ctx, fakeClient{ops: ops}, "convot-test"))

	ops = &fakeOperator{custom: map[string]enumspb.IndexedValueType{"DsrDeadline": enumspb.INDEXED_VALUE_TYPE_KEYWORD}}
	err := RegisterSearchAttributes(ctx, fakeClient{ops: ops}, "convot-test")
	require.ErrorContains(t, err, "DsrDeadline")
	require.Empty(t, ops.adds, "nothing is added when a type conflicts")
}

// TestOnDevServer registers the search attributes on a real server (twice),
// then runs a conversation there and finds it by them.
func TestOnDevServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := testenv.TemporalDevServer(t, ctx, client.Options{})

	require.NoError(t, RegisterSearchAttributes(ctx, c, "default"))
	require.NoError(t, RegisterSearchAttributes(ctx, c, "default"))
	list, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	require.NoError(t, err)
	for name, typ := range SearchAttributes {
		require.Equal(t, typ, list.GetCustomAttributes()[name], name)
	}

	rec := &recorder{}
	w := worker.New(c, TaskQueue, worker.Options{})
	Register(w)
	w.RegisterActivityWithOptions(rec.record, activity.RegisterOptions{Name: ActivityRecordConversationStatus})
	(&aiFake{}).register(w)
	require.NoError(t, w.Start())
	defer w.Stop()

	in := ConversationInput{ConversationID: 77, OrganizationID: 5}
	run, err := c.ExecuteWorkflow(ctx, ConversationStartOptions(in), ConversationWorkflowType, in)
	require.NoError(t, err)
	require.Equal(t, "conversation-77", run.GetID())
	require.NoError(t, c.SignalWorkflow(ctx, run.GetID(), "", SignalAssign, AssignSignal{AssigneeID: 3}))
	require.NoError(t, c.SignalWorkflow(ctx, run.GetID(), "", SignalResolve, nil))

	require.Eventually(t, func() bool {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default",
			Query:     `ConvotOrgId="5" AND ConversationStatus="resolved"`,
		})
		return err == nil && len(resp.GetExecutions()) == 1 && resp.GetExecutions()[0].GetExecution().GetWorkflowId() == "conversation-77"
	}, 20*time.Second, 100*time.Millisecond, "conversation not found by its search attributes")

	v, err := c.QueryWorkflow(ctx, run.GetID(), "", QueryStatus)
	require.NoError(t, err)
	var s ConversationState
	require.NoError(t, v.Get(&s))
	require.Equal(t, ConversationResolved, s.Status)
	require.Equal(t, uint64(3), s.AssigneeID)
	require.Len(t, rec.recorded(), 2)

	require.NoError(t, c.CancelWorkflow(ctx, run.GetID(), ""))
	err = run.Get(ctx, nil)
	require.Error(t, err)
}
