package activities

import (
	"context"
	"fmt"
	"strings"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/outgoing"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/workflows"
)

// webhookActivities are the WebhookDelivery workflow's activities.
func webhookActivities(a *Activities) map[string]any {
	return map[string]any{
		workflows.ActivityAttemptWebhookDelivery: a.AttemptWebhookDelivery,
		workflows.ActivityDisableWebhookEndpoint: a.DisableWebhookEndpoint,
	}
}

func (a *Activities) deliverer() *outgoing.Deliverer {
	return &outgoing.Deliverer{Store: a.Store, Endpoints: a.Webhooks}
}

// AttemptWebhookDelivery makes one attempt of a delivery (outgoing.Deliverer):
// gate, sign, post (10 s, no redirect), log.
func (a *Activities) AttemptWebhookDelivery(ctx context.Context, in workflows.WebhookAttemptInput) (workflows.WebhookAttemptResult, error) {
	res, err := a.deliverer().Attempt(ctx, in.OrganizationID, in.DeliveryID, in.Final)
	if err != nil {
		return workflows.WebhookAttemptResult{}, err
	}
	return workflows.WebhookAttemptResult{Outcome: res.Outcome, StatusCode: res.StatusCode, DisableEndpoint: res.Disable}, nil
}

// DisableWebhookEndpoint disables an endpoint failing for five days and
// mails the organization's owners.
func (a *Activities) DisableWebhookEndpoint(ctx context.Context, ref workflows.WebhookEndpointRef) error {
	_, err := a.deliverer().DisableEndpoint(ctx, ref.OrganizationID, ref.EndpointID, a.mailEndpointDisabled)
	return err
}

// mailEndpointDisabled tells the owners an endpoint was disabled.
func (a *Activities) mailEndpointDisabled(ctx context.Context, org *models.Organization, owners []models.Account, ep *models.WebhookEndpoint) error {
	if a.Mail == nil {
		return errNoMail()
	}
	link := strings.TrimSuffix(a.BaseURL, "/") + fmt.Sprintf("/settings/webhooks/%d", ep.ID)
	text := fmt.Sprintf("Convot could not deliver webhooks to your endpoint %s for five days, so it is disabled now; "+
		"no further events are sent to it. Once it answers again, enable it and redeliver what it missed:\n\n%s\n", ep.URL, link)
	for _, o := range owners {
		if o.Email == "" || o.Status != "active" {
			continue
		}
		err := a.Mail.Send(ctx, mail.Message{
			From: a.MailFrom, To: o.Email, Subject: "A webhook endpoint was disabled", Text: "Hello " + o.DisplayName + ",\n\n" + text,
			Stream: mail.Transactional, Tag: "webhook_endpoint_disabled",
			Org: org.GateContext(), Recipient: policies.SubjectContext{Kind: models.SubjectCustomer},
		})
		if err != nil {
			return fmt.Errorf("send webhook_endpoint_disabled: %w", err)
		}
	}
	return nil
}
