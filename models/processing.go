package models

import "sort"

// ProcessingRecord is one row of the record of processing.
type ProcessingRecord struct {
	Category    string   `json:"category"`
	Description string   `json:"description"`
	Subject     string   `json:"data_subject"`
	Purposes    []string `json:"purposes"`
	LegalBases  []string `json:"legal_bases"`
	Retention   string   `json:"retention"`
	Stored      string   `json:"stored"`
	Form        string   `json:"form"`
}

// RecordOfProcessing derives the record (GDPR Art. 30) from the inventory.
func RecordOfProcessing() []ProcessingRecord {
	var rows []ProcessingRecord
	for _, f := range Inventory() {
		rows = append(rows, ProcessingRecord{
			Category: f.Category, Description: Categories[f.Category], Subject: f.Subject,
			Purposes: f.Purposes, LegalBases: f.LegalBases(), Retention: Retention[f.Retention].Rule,
			Stored: f.Table + "." + f.Column, Form: f.Form,
		})
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Subject != rows[j].Subject {
			return rows[i].Subject < rows[j].Subject
		}
		return rows[i].Category < rows[j].Category
	})
	return rows
}
