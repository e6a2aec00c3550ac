package gitrepo

import (
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
)

// Author names who made a commit (used as both author and committer).
type Author struct {
	Name  string
	Email string
}

// DefaultAuthor is used when neither flags nor git config name anybody.
var DefaultAuthor = Author{Name: "fleetgen", Email: "fleetgen@localhost"}

// String formats the author the way git shows it: "Name <email>".
func (a Author) String() string { return a.Name + " <" + a.Email + ">" }

// ResolveAuthor fills each of Name and Email, independently as git does,
// from the first source that sets it:
//
//  1. explicit (from command-line flags);
//  2. the repository's own config at dir/.git/config (author.*, then user.*);
//  3. the global git config ($XDG_CONFIG_HOME/git/config, ~/.gitconfig or
//     ~/.config/git/config, as go-git's config.LoadConfig(GlobalScope) reads it);
//  4. DefaultAuthor.
//
// Unreadable config files are skipped, never an error.
func ResolveAuthor(dir string, explicit Author) Author {
	a := Author{Name: strings.TrimSpace(explicit.Name), Email: strings.TrimSpace(explicit.Email)}
	fill := func(c *config.Config) {
		if c == nil {
			return
		}
		for _, src := range []Author{
			{c.Author.Name, c.Author.Email},
			{c.User.Name, c.User.Email},
		} {
			if a.Name == "" {
				a.Name = strings.TrimSpace(src.Name)
			}
			if a.Email == "" {
				a.Email = strings.TrimSpace(src.Email)
			}
		}
	}
	if a.Name == "" || a.Email == "" {
		if dir != "" {
			if r, err := git.PlainOpen(dir); err == nil {
				if c, err := r.Config(); err == nil {
					fill(c)
				}
			}
		}
	}
	if a.Name == "" || a.Email == "" {
		if c, err := config.LoadConfig(config.GlobalScope); err == nil {
			fill(c)
		}
	}
	if a.Name == "" {
		a.Name = DefaultAuthor.Name
	}
	if a.Email == "" {
		a.Email = DefaultAuthor.Email
	}
	return a
}
