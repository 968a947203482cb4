// Package activities holds every side effect Convot's workflows need. A
// workflow passes identifiers; an activity loads what it needs from the
// database, so no personal data travels through Temporal.
package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"gorm.io/gorm"

	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

// Activities carries the dependencies of the activities.
type Activities struct {
	DB *gorm.DB
}

// Register registers every activity under the names the workflows call.
func Register(w worker.Registry, a *Activities) {
	w.RegisterActivityWithOptions(a.RecordConversationStatus, activity.RegisterOptions{Name: workflows.ActivityRecordConversationStatus})
}

// RecordConversationStatus persists a state change of the conversation
// lifecycle workflow. It is idempotent: replaying it sets the same values.
func (a *Activities) RecordConversationStatus(ctx context.Context, ch workflows.ConversationStatusChange) error {
	updates := map[string]any{"status": ch.Status, "updated_at": ch.At}
	if ch.AssigneeID == 0 {
		updates["assignee_id"] = nil
	} else {
		updates["assignee_id"] = ch.AssigneeID
	}
	switch ch.Status {
	case models.ConversationResolved:
		updates["resolved_at"] = ch.At
		updates["snoozed_until"] = nil
	case models.ConversationSnoozed:
		updates["snoozed_until"] = ch.SnoozedUntil
	case models.ConversationOpen, models.ConversationPending:
		updates["resolved_at"] = nil
		updates["snoozed_until"] = nil
	}
	res := a.DB.WithContext(ctx).Model(&models.Conversation{}).
		Where("id = ? AND organization_id = ?", ch.ConversationID, ch.OrganizationID).Updates(updates)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		// Deleted (erased) meanwhile: nothing left to record.
		activity.GetLogger(ctx).Info("conversation gone", "conversation", fmt.Sprint(ch.ConversationID))
	}
	return nil
}
