package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"strato/internal/server"
)

// image runs `strato image …`: building base images, importing disks, and the
// AMI ID aliases of a Region.
func image(args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "build":
			return imageBuild(args[1:])
		case "import":
			return imageImport(args[1:])
		}
	}
	if len(args) < 2 || args[0] != "alias" {
		return fmt.Errorf("image: say build, import or alias set|list|delete")
	}
	verb := args[1]
	fs, dir := newFlags("image alias " + verb)
	region := fs.String("region", "us-east-1", "the Region the alias is for")
	fs.Parse(args[2:])
	ctx := context.Background()
	c, closeStore, err := server.OpenCloud(ctx, *dir, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	defer closeStore()
	switch verb {
	case "set":
		if fs.NArg() != 2 {
			return fmt.Errorf("image alias set: want FROM TARGET (an AMI ID, or default, and a public image's ID)")
		}
		return c.SetImageAlias(ctx, *region, fs.Arg(0), fs.Arg(1))
	case "delete":
		if fs.NArg() != 1 {
			return fmt.Errorf("image alias delete: want FROM")
		}
		return c.DeleteImageAlias(ctx, *region, fs.Arg(0))
	case "list":
		aliases, err := c.ImageAliases(ctx, *region)
		if err != nil {
			return err
		}
		for _, a := range aliases {
			fmt.Printf("%s\t%s\n", a.From, a.Target)
		}
		return nil
	}
	return fmt.Errorf("image alias: say set, list or delete")
}
