"""The Go vulnerability database (OSV): access and cache, build, index, matching, reachability."""
