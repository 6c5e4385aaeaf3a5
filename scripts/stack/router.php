<?php
// Router for `php -S` serving Debian's WordPress (/usr/share/wordpress) in the local stack.
//
// Debian's wp-config.php reads /etc/wordpress/config-$WORDPRESS_CONFIG.php; that file forwards
// to the stack's own wp-config (environment variable HAWP_WP_CONFIG), so two stacks in
// different state directories keep their own database settings. WordPress links its themes and
// uploads under /wp-content/, which lives in the stack's state directory
// (HAWP_WP_CONTENT_DIR), as Debian's Apache configuration aliases it to /var/lib/wordpress.
// Everything else is left to the built-in server (return false): PHP scripts, static files
// below the document root, and index.php for paths that name no file.

$_SERVER['WORDPRESS_CONFIG'] = 'hawp-stack';

$path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');
if (!str_starts_with($path, '/wp-content/')) {
    return false;
}

$content = realpath(getenv('HAWP_WP_CONTENT_DIR'));
$file = realpath($content . substr($path, strlen('/wp-content')));
// realpath() follows the theme and plugin symlinks into /usr/share/wordpress; anything else
// outside the content directory is refused.
$allowed = [$content . '/', '/usr/share/wordpress/wp-content/'];
$inside = $file !== false
    && count(array_filter($allowed, fn($prefix) => str_starts_with($file, $prefix))) > 0;
if (!$inside || !is_file($file) || str_ends_with($file, '.php')) {
    http_response_code(404);
    echo "Not Found\n";
    return true;
}

// Browsers refuse style sheets and scripts with a generic type.
$types = ['css' => 'text/css', 'js' => 'text/javascript', 'svg' => 'image/svg+xml',
          'json' => 'application/json', 'woff' => 'font/woff', 'woff2' => 'font/woff2',
          'png' => 'image/png', 'jpg' => 'image/jpeg', 'jpeg' => 'image/jpeg',
          'gif' => 'image/gif', 'webp' => 'image/webp', 'ico' => 'image/x-icon',
          'txt' => 'text/plain'];
$ext = strtolower(pathinfo($file, PATHINFO_EXTENSION));
$type = $types[$ext] ?? (mime_content_type($file) ?: 'application/octet-stream');
header('Content-Type: ' . $type);
header('Content-Length: ' . filesize($file));
readfile($file);
return true;
