package models

// BuildInventoryForTest exposes the inventory builder to the tests.
var BuildInventoryForTest = buildInventory
