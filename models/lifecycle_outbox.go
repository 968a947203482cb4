package models

import "time"

// LifecycleSignal is a signal to a conversation's lifecycle workflow
// (conversation-<id>), written in the transaction of the change it
// announces (a message, a status or assignee change) and deleted once
// Temporal has it: a node killed after the commit loses nothing, and any
// node delivers it. Its ID travels with the signal, so the workflow can
// ignore a second delivery. It holds IDs, a signal name and the signal's
// argument (IDs and times), no personal data.
type LifecycleSignal struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64
	ConversationID uint64
	// InactivityHours is the organization's, for the workflow's start.
	InactivityHours int64
	Signal          string `privacy:"none"` // workflows.SignalMessage, ...
	Arg             string `privacy:"none"` // the signal's argument as JSON: IDs and times
	// MayWait: the lifecycle may hear of this signal late (a contact's
	// message that changes no state and asks for no automated answer): it
	// waits for another signal of its conversation, or for the drain's
	// deferral to run out, and goes with it in one delivery.
	MayWait   bool
	CreatedAt time.Time
}

// TableName is lifecycle_outbox: the rows wait there until delivered.
func (LifecycleSignal) TableName() string { return "lifecycle_outbox" }
