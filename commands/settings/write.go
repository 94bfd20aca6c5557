package settings

import (
	"fmt"
	"os"
	"path/filepath"
)

// Set writes one key of an environment to the file, creating both as needed.
func (f *File) Set(envName, key, value string) error {
	field, err := LookupField(key)
	if err != nil {
		return err
	}
	f.v.Set(fmt.Sprintf("environments.%s.%s", envName, field.Key), value)
	return f.save()
}

// AddEnvironment writes a whole environment. It refuses to replace one that
// exists unless replace is set.
func (f *File) AddEnvironment(e *Environment, replace bool) error {
	if _, ok := f.Environments[e.Name]; ok && !replace {
		return fmt.Errorf("environment %q already exists in %s (use --force to replace it)", e.Name, f.path)
	}
	prefix := "environments." + e.Name + "."
	for _, fl := range Fields {
		if v := *fl.ref(e); v != "" {
			f.v.Set(prefix+fl.Key, v)
		}
	}
	for k, v := range e.LogGroups {
		f.v.Set(prefix+"log_groups."+k, v)
	}
	f.Environments[e.Name] = e
	if f.CurrentEnvironment == "" {
		f.CurrentEnvironment = e.Name
		f.v.Set("current_environment", e.Name)
	}
	return f.save()
}

// Use makes name the current environment.
func (f *File) Use(name string) error {
	if _, ok := f.Environments[name]; !ok {
		return &UnknownEnvironmentError{Name: name, Available: f.Names()}
	}
	f.CurrentEnvironment = name
	f.v.Set("current_environment", name)
	return f.save()
}

// save writes the file with owner-only permissions, since it may hold a token.
func (f *File) save() error {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return err
	}
	if err := f.v.WriteConfigAs(f.path); err != nil {
		return fmt.Errorf("writing config %s: %w", f.path, err)
	}
	return os.Chmod(f.path, 0o600)
}
