//! The commerce attributes: cart (`cartStatus`), purchase and viewed product. Their page
//! and history shapes use the same field names ("flat", docs/vocabulary.md, Page and
//! history shape).

use super::fields::{declare, object};
use crate::error::Errors;
use crate::read::array;
use crate::scalar::{Field, Text};
use crate::tape::Node;

declare! {
    /// One product as a cart, a purchase or a product view reports it.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct Product {
        pub name: Field<Text> = text("name"),
        pub category: Field<Text> = text("category"),
        pub sku: Field<Text> = text("sku"),
        pub price: Field<Text> = text("price"),
        pub status_in_stock: Field<Text> = flag("statusInStock"),
        pub quantity_in_stock: Field<Text> = text("quantityInStock"),
    }
}

impl Product {
    fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<Product> {
        object(json, errors, Product::FIELDS, Product::read)
    }
}

declare! {
    /// One line of a product list: `{product: {...}, quantity}`. The product is boxed: a
    /// line is then 40 bytes instead of 168, and building a list moves lines, not products.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct ProductLine {
        pub product: Field<Box<Product>> =
            read("product", |j, e| Product::parse(j, e).map(Box::new)),
        pub quantity: Field<Text> = text("quantity"),
    }
}

impl ProductLine {
    fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<ProductLine> {
        object(json, errors, ProductLine::FIELDS, ProductLine::read)
    }
}

/// A `products` list, each line reported under its index.
fn product_lines(json: Node<'_, '_>, errors: &mut Errors) -> Option<Vec<ProductLine>> {
    array(json, errors, ProductLine::parse)
}

declare! {
    /// `cart` on the page, `cartStatus` in history: the cart as it is now.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct Cart {
        pub total: Field<Text> = text("total"),
        pub currency: Field<Text> = text("currency" | "Currency"),
        pub num_items: Field<Text> = text("numItems"),
        pub products: Field<Vec<ProductLine>> = read("products", product_lines),
    }
}

impl Cart {
    fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<Cart> {
        object(json, errors, Cart::FIELDS, Cart::read)
    }
}

declare! {
    /// `purchase`: a completed order, with the cart it emptied.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct Purchase {
        pub total: Field<Text> = text("total"),
        pub currency: Field<Text> = text("currency" | "Currency"),
        pub order_id: Field<Text> = text("orderId"),
        /// Boxed, so that a purchase is not the largest attribute: every `Sde` is as large
        /// as its largest kind, and attributes are moved several times on their way to the
        /// store.
        pub cart: Field<Box<Cart>> = read("cart", |j, e| Cart::parse(j, e).map(Box::new)),
    }
}

declare! {
    /// `prodView` on the page, `viewedProduct` in history.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct ViewedProduct {
        pub currency: Field<Text> = text("currency" | "Currency"),
        pub products: Field<Vec<ProductLine>> = read("products", product_lines),
    }
}
