//! Source errors name the file and what is wrong with it, before anything is uploaded: a path
//! that does not exist, a directory that is not a layout, a file that is not a tar, an archive
//! of the other kind, a missing blob, a manifest whose bytes do not match index.json.

#[path = "image_fixtures.rs"]
mod fixtures;

use fixtures::*;
use oidc_ecs_deploy::image::SourceRef;

async fn open_err(source: &str) -> String {
    SourceRef::parse(source)
        .unwrap()
        .open()
        .await
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn source_errors_say_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let not_tar = tmp.path().join("not.tar");
    std::fs::write(&not_tar, vec![7u8; 2000]).unwrap();

    let mut layout = OciLayout::create();
    let img = layout.image(&[100, 200], "amd64");
    layout.add_entry(&img.manifest, Some("v1"));
    let layout_tar = layout.to_tar(tmp.path());
    let (archive, _, _) = docker_archive(tmp.path(), "app:1", &[10], false);
    let lp = layout.path().display().to_string();

    let cases: Vec<(String, Vec<String>)> = vec![
        (
            "oci:/no/such/dir".into(),
            vec!["/no/such/dir: cannot open the image source".into()],
        ),
        (
            format!("oci:{}", empty.display()),
            vec!["is not a valid OCI image layout: it has no oci-layout file".into()],
        ),
        (
            format!("oci:{}", not_tar.display()),
            vec!["cannot read it as a directory or a tar archive".into()],
        ),
        (
            format!("docker-archive:{}", layout_tar.display()),
            vec!["not a valid docker save archive: it has no manifest.json".into()],
        ),
        (
            format!("oci:{}", archive.display()),
            vec!["not a valid OCI image layout".into()],
        ),
    ];
    for (source, wants) in cases {
        let err = open_err(&source).await;
        for want in wants {
            assert!(err.contains(&want), "{source}: {err}");
        }
    }

    // A blob named by the manifest is not in the layout.
    std::fs::remove_file(layout.blob_path(&img.layers[1].digest)).unwrap();
    let err = open_err(&format!("oci:{lp}:v1")).await;
    assert!(
        err.contains(&format!(
            "blobs/sha256/{} is missing",
            img.layers[1].digest.hex()
        )),
        "{err}"
    );

    // The manifest's bytes changed after index.json was written.
    let mpath = layout.blob_path(&img.manifest.digest);
    let mut bytes = std::fs::read(&mpath).unwrap();
    bytes.push(b'\n');
    std::fs::write(&mpath, &bytes).unwrap();
    let err = open_err(&format!("oci:{lp}:v1")).await;
    assert!(
        err.contains(&img.manifest.digest.to_string()) && err.contains("corrupt"),
        "{err}"
    );
}
