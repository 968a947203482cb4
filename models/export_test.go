package models

// BuildInventoryForTest exposes the inventory builder to the tests.
var BuildInventoryForTest = buildInventory

// MigrateUpToForTest applies the migrations up to a version, for a
// migration's test.
var MigrateUpToForTest = migrateUpTo
