package dsr

import (
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/subprocessors"
)

// ExportStorage is where the blob store keeps (and the egress gate judges)
// the answer to a request of an organization in region: the subject's own
// data, of the kind the request is about (an End User's when kind is "",
// as for a request gone meanwhile).
func ExportStorage(orgID uint64, kind, region string) subprocessors.StorageContext {
	if kind == "" {
		kind = models.SubjectEndUser
	}
	return subprocessors.StorageContext{Organization: policies.OrgContext{ID: orgID, Region: region}, Subject: policies.SubjectContext{Kind: kind}, Categories: []string{"user"}}
}
