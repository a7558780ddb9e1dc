// Deprecated: use example.com/new
module example.com/old
