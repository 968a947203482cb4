package workflows

import (
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Policy changes (policy §13): publishing a material change of the privacy
// policy starts one workflow (policy-change-<version>) that mails the
// notice to every customer account at once, at least thirty days before
// the change takes effect, then waits for the effective date and records
// it. The dashboard banner and /privacy follow the version's dates.

// PolicyChangeWorkflowType is the registered name of PolicyChange.
const PolicyChangeWorkflowType = "PolicyChange"

// Activities of the policy change, implemented in package activities.
const (
	ActivitySendPolicyNotices = "SendPolicyNotices"
	ActivityRecordPolicyStep  = "RecordPolicyStep"
)

// QueryPolicyChangeStatus returns PolicyChangeState.
const QueryPolicyChangeStatus = "status"

// PolicyNoticePeriod is the least time between the notice of a material
// change and its effect (policy §13: thirty days).
const PolicyNoticePeriod = 30 * 24 * time.Hour

// PolicyChangeInput starts the notice of one published version.
type PolicyChangeInput struct {
	Version     int
	Material    bool
	EffectiveAt time.Time
}

// PolicyStepInput records a step of a policy change in the audit log.
type PolicyStepInput struct {
	Version int
	Step    string // notices_sent, effective
	Detail  string
	At      time.Time
}

// PolicyChangeState answers QueryPolicyChangeStatus.
type PolicyChangeState struct {
	Version       int
	Material      bool
	EffectiveAt   time.Time
	NoticesSent   int64
	NoticesSentAt time.Time `json:",omitzero"`
	Effective     bool
}

// PolicyChangeWorkflowID is the workflow ID of a version's notice.
func PolicyChangeWorkflowID(version int) string { return "policy-change-" + strconv.Itoa(version) }

// PolicyChange mails the notice of a version to every customer account,
// then sleeps until the version takes effect. A material change due in
// less than PolicyNoticePeriod is refused, whoever started it.
func PolicyChange(ctx workflow.Context, in PolicyChangeInput) (PolicyChangeState, error) {
	st := PolicyChangeState{Version: in.Version, Material: in.Material, EffectiveAt: in.EffectiveAt}
	if in.Version <= 0 || in.EffectiveAt.IsZero() {
		return st, temporal.NewNonRetryableApplicationError("version and effective date are required", "InvalidInput", nil)
	}
	if err := workflow.SetQueryHandler(ctx, QueryPolicyChangeStatus, func() (PolicyChangeState, error) { return st, nil }); err != nil {
		return st, err
	}
	now := workflow.Now(ctx)
	if in.Material && in.EffectiveAt.Sub(now) < PolicyNoticePeriod {
		return st, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("a material change must take effect at least 30 days after its notice; version %d takes effect %s", in.Version, in.EffectiveAt.UTC().Format(time.DateOnly)),
			"NoticeTooShort", nil)
	}
	mail := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 6 * time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute},
	})
	if err := workflow.ExecuteActivity(mail, ActivitySendPolicyNotices, in.Version).Get(ctx, &st.NoticesSent); err != nil {
		return st, err
	}
	st.NoticesSentAt = workflow.Now(ctx)
	if err := workflow.ExecuteActivity(shortActivity(ctx), ActivityRecordPolicyStep, PolicyStepInput{
		Version: in.Version, Step: "notices_sent", At: st.NoticesSentAt,
		Detail: fmt.Sprintf("%d accounts; takes effect %s", st.NoticesSent, in.EffectiveAt.UTC().Format(time.DateOnly)),
	}).Get(ctx, nil); err != nil {
		return st, err
	}
	if d := in.EffectiveAt.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{Summary: "policy version takes effect"}).Get(ctx, nil); err != nil {
			return st, err
		}
	}
	st.Effective = true
	err := workflow.ExecuteActivity(shortActivity(ctx), ActivityRecordPolicyStep, PolicyStepInput{
		Version: in.Version, Step: "effective", At: workflow.Now(ctx),
	}).Get(ctx, nil)
	return st, err
}
