package outgoing

import (
	"encoding/json"
	"strconv"
	"time"
)

// Payload is the JSON body of a delivery (Standard Webhooks' type,
// timestamp, data), with the format's version. Data holds IDs, and the
// personal fields the event type carries only when the endpoint opted in to
// content and the gate let them leave.
type Payload struct {
	Type      string         `json:"type"`
	Version   int            `json:"version"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// Body is the payload as sent.
func (p Payload) Body() ([]byte, error) { return json.Marshal(p) }

// MessageID is the webhook-id of an event's delivery to an endpoint: stable
// across attempts and redeliveries, so a receiver can drop duplicates.
func MessageID(deliveryID uint64) string {
	return "msg_" + strconv.FormatUint(deliveryID, 10)
}
