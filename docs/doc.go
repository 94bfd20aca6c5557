// Package docs holds the Nexus Support Guide and the command reference.
package docs
