// placeholder
// the dashboard (being written)
// the dashboard (being written)
// the dashboard (being written)
// the dashboard (being written)
// the dashboard (being written)
